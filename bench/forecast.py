"""How long the hall forecast takes: a 400-citizen center at its busiest (200 waiting, 30 counters).

Prints medians of: the whole-hall forecast (status pages, boards, supervisor), the
issuing probe (one ghost, stops once it is placed), and the per-service "what if" waits of
the kiosk's service list (75 ghosts). Run: .venv/bin/python bench/forecast.py
"""
from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config import loader  # noqa: E402
from server.core import errors, forecast, queue  # noqa: E402
from server.sim.day import SimClock as Clock  # noqa: E402
from server.store import SQLiteStore  # noqa: E402


def main(waiting: int = 200, runs: int = 60) -> None:
    cfg = loader.load("absheron")
    clock = Clock(datetime(2026, 12, 1, 11, 0, tzinfo=ZoneInfo("Asia/Baku")).timestamp())
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "bench.db", cfg, clock=clock, synchronous="OFF")
        for c in cfg.counters:
            queue.open_counter(store, c.number, operator=f"op{c.number}")
        codes = [s.code for s in cfg.services]
        weights = [s.quota for s in cfg.services]
        groups = [g.code for g in cfg.priority_groups]
        issued = 0
        while issued < waiting + len(cfg.counters):
            code = rng.choices(codes, weights)[0]
            svc = cfg.services_by_code[code]
            prio = rng.choice(groups) if svc.priority_groups and rng.random() < 0.15 else None
            clock.now += 2
            try:
                queue.issue_ticket(store, code, priority=prio if prio in svc.priority_groups else None)
                issued += 1
            except errors.CapacityReached:
                continue
        for c in cfg.counters:                       # every counter busy with a citizen
            try:
                queue.call_next(store, c.number)
            except errors.NoTicketsWaiting:
                pass
        day = store.tickets_of_day(store.tickets_of_day("2026-12-01")[0].day)[0].day
        with store.read() as tx:
            n_wait = len(tx.waiting_all(day))
            full, probe, kiosk = [], [], []
            for _ in range(runs):
                t0 = time.perf_counter()
                fc = queue.hall_forecast(store, tx, clock.now, day)
                full.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                queue.hall_forecast(store, tx, clock.now, day, ghosts=[queue.ghost("PEN-01", clock.now)],
                                    only_ghosts=True)
                probe.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                ghosts = [queue.ghost(code, clock.now, ghost_id=forecast.GHOST + i) for i, code in enumerate(codes)]
                queue.hall_forecast(store, tx, clock.now, day, ghosts=ghosts, only_ghosts=True)
                kiosk.append(time.perf_counter() - t0)
        store.close()
    last = max(c.at for c in fc.calls.values()) - clock.now
    print(f"absheron: {n_wait} waiting, {len(cfg.counters)} counters busy; last call forecast in {last / 60:.0f} min")
    print(f"whole-hall forecast      median {statistics.median(full) * 1000:6.2f} ms  (p90 "
          f"{sorted(full)[int(0.9 * len(full))] * 1000:.2f} ms) over {runs} runs")
    print(f"issuing probe (1 ghost)  median {statistics.median(probe) * 1000:6.2f} ms")
    print(f"service list ({len(codes)} ghosts) median {statistics.median(kiosk) * 1000:6.2f} ms (cached per event)")


if __name__ == "__main__":
    main()
