"""Report latency over a year of a large center: ~100,000 tickets and ~1,000,000 events.

The year is written straight into a real store file (the store's own schema and migrations), shaped
like the Abşeron center: 400 citizens a working day over its services, 30 counters, 1 in 10
priority, no-shows, transfers, cancellations, recalls, pauses, and six in ten served citizens rating
the visit. Then, for each grouping, the report over the whole year and over its last month is
asked for repeatedly, through server.reports as the API does:

- with the daily rollups (as a running server has them: the hourly job, or ``novbe rollup``);
- a month with no rollups at all (every day computed from tickets and events), for comparison.

Prints p50 and p95 in milliseconds, the rollup time and the database's size.
Run: .venv/bin/python bench/reports.py [--days 250] [--per-day 400] [--runs 20]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config import loader  # noqa: E402
from server import reports  # noqa: E402
from server.store import SQLiteStore  # noqa: E402


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def working_days(last: date, count: int) -> list[date]:
    out, d = [], last
    while len(out) < count:
        if d.weekday() < 5:
            out.append(d)
        d -= timedelta(days=1)
    return sorted(out)


def write_year(path: str, cfg, days: list[date], per_day: int, seed: int = 1) -> tuple[int, int]:
    """Tickets, events and ratings of ``days``, written in bulk; (tickets, events)."""
    rng = random.Random(seed)
    services = [s for s in cfg.services]
    weights = [s.quota for s in services]
    by_service = {s.code: [c.number for c in cfg.counters if s.code in c.services] for s in services}
    groups = [g.code for g in cfg.priority_groups]
    operators = [f"op{i:02d}" for i in range(1, 41)]
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous = OFF")
    tid = conn.execute("SELECT coalesce(max(id), 0) FROM tickets").fetchone()[0]
    n_tickets = n_events = 0
    for day in days:
        opens = datetime.combine(day, datetime.min.time().replace(hour=9), tzinfo=cfg.tz).timestamp()
        who = {c.number: rng.choice(operators) for c in cfg.counters}
        tickets, events, ratings = [], [], []
        seq_no: dict[str, int] = {}
        for _ in range(per_day + rng.randint(-40, 40)):
            tid += 1
            svc = rng.choices(services, weights)[0]
            final = svc
            issued = opens + rng.uniform(0, 8.5 * 3600)
            seq_no[svc.letter] = seq_no.get(svc.letter, 0) + 1
            number = f"{svc.letter}-{seq_no[svc.letter]:03d}"
            prio = rng.choice(groups) if groups and rng.random() < 0.1 and svc.priority_groups else None
            ev = [(tid, "ticket-issued", issued, "kiosk-1", None, {"number": number, "service": svc.code})]
            wait = rng.lognormvariate(math.log(svc.target_wait * 60 * 0.5), 0.7)
            called = issued + wait
            counter = rng.choice(by_service[svc.code])
            roll = rng.random()
            status, started, finished = "done", None, None
            if roll < 0.04:
                status, finished = "cancelled", issued + wait * 0.5
                ev.append((tid, "ticket-cancelled", finished, "citizen", None, {}))
                called = None
                counter = None
            elif roll < 0.06:
                status, called, counter = "expired", None, None
                ev.append((tid, "ticket-expired", opens + 86400, "system", None, {}))
            else:
                ev.append((tid, "ticket-called", called, who[counter], counter, {}))
                for k in range(rng.choice([0, 0, 0, 1, 2])):
                    ev.append((tid, "ticket-recalled", called + 60 * (k + 1), who[counter], counter, {}))
                if roll < 0.12:
                    status, finished = "no_show", called + 180
                    ev.append((tid, "ticket-no-show", finished, who[counter], counter, {}))
                else:
                    started = called + 40
                    ev.append((tid, "service-started", started, who[counter], counter, {}))
                    if roll < 0.15:   # transferred halfway, waits again with its original issue time
                        other = rng.choice([s for s in services if s.area == svc.area] or services)
                        at = started + 120
                        ev.append((tid, "ticket-transferred", at, who[counter], counter,
                                   {"from_service": svc.code, "to_counter": None}))
                        final = other
                        counter = rng.choice(by_service[other.code])
                        called = at + rng.lognormvariate(math.log(300), 0.6)
                        started = called + 40
                        ev.append((tid, "ticket-called", called, who[counter], counter, {}))
                        ev.append((tid, "service-started", started, who[counter], counter, {}))
                    finished = started + rng.lognormvariate(math.log(final.target_minutes * 60), 0.5)
                    ev.append((tid, "ticket-finished", finished, who[counter], counter, {"outcome": "served"}))
                    if rng.random() < 0.6:
                        score = rng.choices([1, 2, 3, 4, 5], weights=[1, 1, 2, 20, 76])[0]
                        ratings.append((tid, day.isoformat(), finished + 30, score, None, None, "status", final.code,
                                        final.area, counter, who[counter]))
                        ev.append((tid, "ticket-rated", finished + 30, "status", counter, {}))
            tickets.append((tid, f"t{tid:08d}", day.isoformat(), svc.letter, seq_no[svc.letter], number, final.code,
                            svc.code, status, issued, "az", prio, None, "kiosk-1", counter, None, called, started,
                            finished, 0, "served" if status == "done" else None, None, 0))
            events += ev
        # staff pauses and resumes, as a day at 30 counters has them
        for c in cfg.counters:
            for k in range(20):
                at = opens + rng.uniform(0, 9 * 3600)
                events.append((None, "counter-changed", at, who[c.number], c.number, {"state": "paused"}))
                events.append((None, "counter-changed", at + 600, who[c.number], c.number, {"state": "open"}))
        events.sort(key=lambda e: e[2])
        conn.executemany("INSERT INTO tickets (id, token, day, letter, seq_no, number, service, original_service, "
                         "status, issued_at, lang, priority, priority_verified_by, kiosk, counter, target_counter, "
                         "called_at, started_at, finished_at, recalls, outcome, note, specific_call) "
                         "VALUES (" + ", ".join("?" * 23) + ")", tickets)
        conn.executemany("INSERT INTO events (center, name, at, actor, ticket_id, counter, payload) "
                         "VALUES ('absheron', ?, ?, ?, ?, ?, ?)",
                         [(name, at, actor, t, c, json.dumps({"event": name, **p})) for t, name, at, actor, c, p in events])
        conn.executemany("INSERT INTO ratings (ticket_id, day, at, score, reason, comment, source, service, area, "
                         "counter, operator) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", ratings)
        conn.commit()
        n_tickets += len(tickets)
        n_events += len(events)
    conn.close()
    return n_tickets, n_events


def timed(fn, runs: int) -> tuple[float, float]:
    """p50 and p95 in milliseconds of ``runs`` calls."""
    fn()   # warm the page cache once, as a server that has been running would be
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return statistics.median(samples), samples[max(0, math.ceil(0.95 * len(samples)) - 1)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=250)
    ap.add_argument("--per-day", type=int, default=400)
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    cfg = loader.load("absheron")
    last = date(2026, 11, 27)
    days = working_days(last, args.days)
    clock = Clock(datetime.combine(last + timedelta(days=3), datetime.min.time().replace(hour=10),
                                   tzinfo=cfg.tz).timestamp())
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "year.db")
        SQLiteStore(path, cfg, clock=clock).close()   # the schema, by the store's own migrations
        t0 = time.perf_counter()
        n_tickets, n_events = write_year(path, cfg, days, args.per_day)
        print(f"wrote {len(days)} days: {n_tickets:,} tickets, {n_events:,} events in {time.perf_counter() - t0:.0f} s")
        store = SQLiteStore(path, cfg, clock=clock)
        first, month = days[0].isoformat(), (last - timedelta(days=29)).isoformat()
        lastd = last.isoformat()
        print(f"\nmonth {month}..{lastd}, no rollups (every day from tickets and events):")
        for by in reports.GROUPINGS:
            p50, p95 = timed(lambda: reports.report(store, month, lastd, by), max(5, args.runs // 4))
            print(f"  by {by:9s} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")
        t0 = time.perf_counter()
        rolled = reports.rollup(store)
        print(f"\nrollup of {len(rolled)} days: {time.perf_counter() - t0:.1f} s "
              f"({(time.perf_counter() - t0) / max(1, len(rolled)) * 1000:.0f} ms a day)")
        print(f"database: {os.path.getsize(path) / 2**20:.0f} MiB")
        for label, a in (("year", first), ("month", month)):
            print(f"\n{label} {a}..{lastd}, with rollups:")
            for by in reports.GROUPINGS:
                p50, p95 = timed(lambda: reports.report(store, a, lastd, by), args.runs)
                print(f"  by {by:9s} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")
            p50, p95 = timed(lambda: reports.arrivals(store, a, lastd), args.runs)
            print(f"  arrivals     p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")
        store.close()


if __name__ == "__main__":
    main()
