"""Issuing tickets over HTTP: tickets/s and p50/p99 latency with 1 and 8 concurrent kiosks.

Starts ``novbe run`` on a loopback port over a fresh database (bench/bench-center.toml:
no printers, big quotas), drives it from separate processes with keep-alive connections,
then checks the database for duplicate or skipped numbers. Prints figures; asserts nothing
about time.

    .venv/bin/python bench/issue_http.py [--requests 1500] [--clients 1,8] [--mode threading|gevent]
"""
from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
CENTER = str(ROOT / "bench" / "bench-center.toml")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def client(port: int, token: str, service: str, n: int, barrier: "mp.synchronize.Barrier", out: "mp.Queue") -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = json.dumps({"service": service, "lang": "az"})
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    lat: list[float] = []
    errors = 0
    barrier.wait()
    start = time.perf_counter()
    for _ in range(n):
        t0 = time.perf_counter()
        conn.request("POST", "/api/tickets", body, headers)
        resp = conn.getresponse()
        resp.read()
        lat.append(time.perf_counter() - t0)
        if resp.status != 201:
            errors += 1
    out.put((lat, errors, start, time.perf_counter()))
    conn.close()


def hall(db: str, center: str, keep: int, clock_offset: float, stop: "mp.synchronize.Event") -> None:
    """The hall's work in another process: every 20 ms the oldest tickets beyond ``keep`` are served.

    The forecast behind every issue plays the whole waiting hall; a real center's hall holds a
    few hundred at most (its capacity is counter time), not the thousands a bench that never
    serves anyone piles up. The counters are open; the tickets beyond ``keep`` are finished in
    one short write transaction straight in SQL. (Counters calling and finishing one by one
    through the core here would be hundreds of write transactions a second from a second
    process, contending for SQLite's file lock: in a center every write goes through the one
    server process, so that contention is the bench's, not the center's.)
    """
    import sqlite3
    import time as t

    from config import loader
    from server.core import queue
    from server.store import SQLiteStore

    cfg = loader.load(center)
    store = SQLiteStore(db, cfg, clock=lambda: t.time() + clock_offset)
    for c in cfg.counters:
        queue.open_counter(store, c.number, operator=f"bench{c.number}")
    store.close()
    conn = sqlite3.connect(db, timeout=10, isolation_level=None)
    while not stop.is_set():
        t.sleep(0.02)
        now = t.time() + clock_offset
        day = queue.clock.business_day(now, cfg.tz)
        conn.execute("BEGIN IMMEDIATE")
        waiting = conn.execute("SELECT count(*) FROM tickets WHERE day = ? AND status = 'waiting'", (day,)).fetchone()[0]
        if waiting > keep:
            conn.execute("UPDATE tickets SET status = 'done', outcome = 'served', called_at = ?, started_at = ?, "
                         "finished_at = ? WHERE id IN (SELECT id FROM tickets WHERE day = ? AND status = 'waiting' "
                         "ORDER BY issued_at, id LIMIT ?)", (now, now, now, day, waiting - keep))
        conn.execute("COMMIT")
    conn.close()


def run_round(server, clients: int, per_client: int, keep: int = 0) -> dict[str, float]:
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(clients)
    out: mp.Queue = ctx.Queue()
    stop = ctx.Event()
    worker = None
    if keep:
        worker = ctx.Process(target=hall, args=(str(server.db), CENTER, keep, server.offset, stop))
        worker.start()
    procs = [ctx.Process(target=client, args=(server.port, server.kiosk_token(f"kiosk-{i % 8 + 1}"), f"S-{i % 8 + 1}",
                                             per_client, barrier, out)) for i in range(clients)]
    for p in procs:
        p.start()
    results = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    if worker is not None:
        stop.set()
        worker.join()
    lat = [x for r in results for x in r[0]]
    errors = sum(r[1] for r in results)
    wall = max(r[3] for r in results) - min(r[2] for r in results)
    return {"clients": clients, "requests": len(lat), "errors": errors, "tickets_per_s": len(lat) / wall,
            "p50_ms": statistics.median(lat) * 1000, "p99_ms": percentile(lat, 99) * 1000}


def check_numbers(db: Path) -> tuple[int, int, int]:
    """(tickets, duplicates, gaps) over every letter of every day."""
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT day, letter, seq_no FROM tickets").fetchall()
    conn.close()
    by: dict[tuple[str, str], list[int]] = {}
    for day, letter, no in rows:
        by.setdefault((day, letter), []).append(no)
    dups = sum(len(v) - len(set(v)) for v in by.values())
    gaps = sum(max(v) - len(set(v)) for v in by.values())
    return len(rows), dups, gaps


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=1500, help="requests per client")
    ap.add_argument("--clients", default="1,8", help="comma-separated client counts, one round each")
    ap.add_argument("--mode", default="threading", choices=["threading", "gevent"], help="server async mode")
    ap.add_argument("--keep-waiting", type=int, default=200,
                    help="counters in another process keep about this many waiting (0: nobody is served)")
    ap.add_argument("--sync", default="FULL", choices=["FULL", "NORMAL"], help="SQLite synchronous for the run")
    args = ap.parse_args()

    from live import LiveServer

    tmp = Path(tempfile.mkdtemp(prefix="novbe-bench-"))
    # Rate limiting stays on (bench-center.toml allows 1,000,000 a minute): its cost is part of every issue.
    env = {"NOVBE_SYNCHRONOUS": args.sync, "NOVBE_RATELIMIT_ENABLED": "true"}
    server = LiveServer(tmp, center=CENTER, env=env)
    t0 = time.perf_counter()
    if args.mode == "gevent":
        server.start(gevent=True)
    else:
        server.start()
    startup = time.perf_counter() - t0
    print(f"server: {args.mode}, synchronous={args.sync}, start-up to first answer {startup * 1000:.0f} ms; "
          + (f"counters keep about {args.keep_waiting} waiting" if args.keep_waiting else "nobody is served"))
    try:
        for n in (int(x) for x in args.clients.split(",")):
            r = run_round(server, n, args.requests, args.keep_waiting)
            print(f"{r['clients']} client(s): {r['requests']} tickets, {r['tickets_per_s']:.0f} tickets/s, "
                  f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, errors {r['errors']}")
        total, dups, gaps = check_numbers(server.db)
        print(f"numbers: {total} tickets, {dups} duplicates, {gaps} skipped")
        print(f"server RSS: {rss_kb(server.proc.pid) / 1024:.0f} MB")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
