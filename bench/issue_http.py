"""Issuing tickets over HTTP: tickets/s and p50/p99 latency with 1, 2, 4 and 8 concurrent kiosks.

Starts ``novbe run`` on a loopback port over a fresh database (bench/bench-center.toml: no
printers, big quotas) for every run, fills the hall to about ``--keep-waiting`` tickets (not
measured), then measures one round per kiosk count, and checks the database for duplicate or
skipped numbers. Meanwhile the hall is drained every 20 ms (see :func:`hall`). Prints figures
(per run, then the median over ``--runs``); asserts nothing about time.

Two ways to drive the kiosks (``--client``):

- ``loop`` (default): one process holds every kiosk's own keep-alive connection and sends each
  kiosk's next request as soon as its answer is in (a kiosk is one connection, requests back to
  back), in one ``selectors`` loop over non-blocking sockets with h11 for HTTP. It takes little
  CPU (about a tenth of what the server takes), so on a small machine it measures the server,
  as in a center where kiosks are separate machines.
- ``processes``: one OS process per kiosk, each with ``http.client`` (the first version of this
  bench). Eight Python processes compete with the server for the cores: on a 2-core machine it
  measures the server *and* the scheduling of its clients, and its p99 is mostly the latter.

Where the hall's 20 ms transaction runs (``--hall``):

- ``server`` (default): inside the server, through its store, as every write of a center is;
  the server then runs under bench/serve_traced.py (its probes cost a few microseconds a request).
- ``process``: in another process, straight in SQL (the first version). It contends with the
  server for SQLite's file lock, whose busy handler sleeps (1, 2, 5 ... ms; under gevent the
  sleep stops every greenlet): it measures that contention, which a center does not have.

``--trace`` lays each request next to what the server did meanwhile (its batch, the write
transactions, garbage collections, the hall's transaction) and prints what the slowest 1 % have
in common. ``--gc freeze`` and ``--yield S`` change the server from outside, to measure a remedy
before anyone writes it (see bench/serve_traced.py). Figures: docs/simulation.md.

    .venv/bin/python bench/issue_http.py [--mode threading|gevent] [--client loop|processes]
        [--hall server|process] [--clients 1,2,4,8] [--requests 800] [--runs 3] [--trace]
        [--gc freeze|threshold:N] [--yield 0.0005]
"""
from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import resource
import selectors
import shutil
import signal
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import h11  # HTTP/1.1 for the one-process client; installed with simple-websocket (via wsproto)

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
CENTER = str(ROOT / "bench" / "bench-center.toml")
now = time.monotonic      # CLOCK_MONOTONIC: the same clock in the server, the hall and here

# One measured request: (kiosk, sent, answered, HTTP status, ticket number or None).
Sample = tuple[int, float, float, int, "str | None"]


def percentile(values: list[float], p: float) -> float:
    """The ``p``-th percentile (inclusive method) of ``values``."""
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


def _kiosk(i: int) -> tuple[str, str]:
    """Kiosk ``i``'s device name and the service it issues (eight kiosks, eight services)."""
    return f"kiosk-{i % 8 + 1}", f"S-{i % 8 + 1}"


# --- client design "processes": one OS process per kiosk --------------------------------------

def client(port: int, token: str, service: str, n: int, barrier: Any, out: Any, kiosk: int) -> None:
    """One kiosk in its own process: ``n`` requests back to back over one keep-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = json.dumps({"service": service, "lang": "az"})
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    samples: list[Sample] = []
    barrier.wait()
    for _ in range(n):
        t0 = now()
        conn.request("POST", "/api/tickets", body, headers)
        resp = conn.getresponse()
        data = resp.read()
        t1 = now()
        samples.append((kiosk, t0, t1, resp.status, json.loads(data).get("number")))
    conn.close()
    out.put(samples)


def drive_processes(port: int, tokens: list[str], n: int) -> tuple[list[Sample], float]:
    """Every kiosk in its own process; returns the samples and the clients' CPU seconds."""
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(len(tokens))
    out: Any = ctx.Queue()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    procs = [ctx.Process(target=client, args=(port, tok, _kiosk(i)[1], n, barrier, out, i))
             for i, tok in enumerate(tokens)]
    for p in procs:
        p.start()
    samples = [s for _ in procs for s in out.get(timeout=600)]
    for p in procs:
        p.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return samples, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


# --- client design "loop": every kiosk's connection in one process ----------------------------

class _Conn:
    """One kiosk's keep-alive connection, driven by :func:`drive_loop`."""

    def __init__(self, kiosk: int, port: int, token: str, service: str, sel: selectors.BaseSelector) -> None:
        self.kiosk = kiosk
        self.port = port
        self.sel = sel
        self.connect()
        self.body = json.dumps({"service": service, "lang": "az"}).encode()
        self.headers = [("Host", f"127.0.0.1:{port}"), ("Authorization", f"Bearer {token}"),
                        ("Content-Type", "application/json"), ("Content-Length", str(len(self.body)))]
        self.sent = 0.0
        self.status = 0
        self.data = bytearray()
        self.left = 0

    def connect(self) -> None:
        """Open the kiosk's connection (again, after a server that answers with ``Connection: close``)."""
        self.sock = socket.create_connection(("127.0.0.1", self.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.sel.register(self.sock, selectors.EVENT_READ, self)
        self.h = h11.Connection(h11.CLIENT)

    def close(self) -> None:
        self.sel.unregister(self.sock)
        self.sock.close()

    def send(self) -> None:
        """Send the next request (the socket buffer takes a request this small at once); Werkzeug's
        threaded server closes the connection after every answer, so then it is opened again first."""
        if self.h.our_state is h11.MUST_CLOSE:
            self.close()
            self.sent = now()
            self.connect()
        else:
            self.sent = now()
        h = self.h
        out = h.send(h11.Request(method="POST", target="/api/tickets", headers=self.headers))
        out += h.send(h11.Data(data=self.body)) + h.send(h11.EndOfMessage())
        self.sock.sendall(out)

    def receive(self) -> bool:
        """Read what has arrived; True once the whole answer is in."""
        self.h.receive_data(self.sock.recv(65536))
        while True:
            event = self.h.next_event()
            if event is h11.NEED_DATA:
                return False
            if isinstance(event, h11.Response):
                self.status = event.status_code
            elif isinstance(event, h11.Data):
                self.data += event.data
            elif isinstance(event, h11.EndOfMessage):
                if self.h.our_state is h11.DONE and self.h.their_state is h11.DONE:
                    self.h.start_next_cycle()
                return True
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionError("the server closed a kiosk's connection")


def drive_loop(port: int, tokens: list[str], n: int) -> tuple[list[Sample], float]:
    """Every kiosk's connection in this process; returns the samples and this loop's CPU seconds."""
    sel = selectors.DefaultSelector()
    conns = [_Conn(i, port, tok, _kiosk(i)[1], sel) for i, tok in enumerate(tokens)]
    for c in conns:
        c.left = n
    samples: list[Sample] = []
    before = resource.getrusage(resource.RUSAGE_SELF)
    for c in conns:
        c.send()
    busy = len(conns)
    while busy:
        for key, _ in sel.select(timeout=10):
            c = key.data
            if not c.receive():
                continue
            t1 = now()
            samples.append((c.kiosk, c.sent, t1, c.status, json.loads(c.data).get("number")))
            c.data.clear()
            c.left -= 1
            if c.left:
                c.send()
            else:
                c.close()
                busy -= 1
    after = resource.getrusage(resource.RUSAGE_SELF)
    sel.close()
    return samples, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


# --- the hall ---------------------------------------------------------------------------------

def hall(db: str, center: str, keep: int, clock_offset: float, ready: Any, stop: Any, out: Any,
         drain: bool = True) -> None:
    """The hall's work in another process: every 20 ms the oldest tickets beyond ``keep`` are served.

    The forecast behind every issue plays the whole waiting hall; a real center's hall holds a
    few hundred at most (its capacity is counter time), not the thousands a bench that never
    serves anyone piles up. The counters are open; the tickets beyond ``keep`` are finished in
    one short write transaction straight in SQL. (Counters calling and finishing one by one
    through the core here would be hundreds of write transactions a second from a second
    process, contending for SQLite's file lock: in a center every write goes through the one
    server process, so that contention is the bench's, not the center's.) Puts the
    transactions' (asked, locked, committed) times on ``out`` when stopped.
    """
    import time as t

    from config import loader
    from server.core import queue
    from server.store import SQLiteStore

    cfg = loader.load(center)
    store = SQLiteStore(db, cfg, clock=lambda: t.time() + clock_offset)
    for c in cfg.counters:
        queue.open_counter(store, c.number, operator=f"bench{c.number}")
    store.close()
    ready.set()
    if not drain:       # --hall server: the traced server drains the hall itself
        out.put([])
        return
    txs: list[tuple[float, float, float]] = []
    conn = sqlite3.connect(db, timeout=10, isolation_level=None)
    while not stop.is_set():
        t.sleep(0.02)
        stamp = t.time() + clock_offset
        day = queue.clock.business_day(stamp, cfg.tz)
        asked = now()
        conn.execute("BEGIN IMMEDIATE")
        locked = now()
        waiting = conn.execute("SELECT count(*) FROM tickets WHERE day = ? AND status = 'waiting'", (day,)).fetchone()[0]
        if waiting > keep:
            conn.execute("UPDATE tickets SET status = 'done', outcome = 'served', called_at = ?, started_at = ?, "
                         "finished_at = ? WHERE id IN (SELECT id FROM tickets WHERE day = ? AND status = 'waiting' "
                         "ORDER BY issued_at, id LIMIT ?)", (stamp, stamp, stamp, day, waiting - keep))
        conn.execute("COMMIT")
        txs.append((asked, locked, now()))
    conn.close()
    out.put(txs)


# --- one run ----------------------------------------------------------------------------------

def cpu_seconds(pid: int) -> float:
    """A process's user + system CPU time so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def take_trace(server: Any, n: int) -> dict[str, Any]:
    """Ask the traced server for its records since the last call (SIGUSR1) and read them."""
    path = Path(f"{server.extra_env['NOVBE_BENCH_TRACE']}.{n}")
    server.proc.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + 20
    while not path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError("the traced server wrote no trace")
        time.sleep(0.05)
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def run_once(args: argparse.Namespace, counts: list[int]) -> list[dict[str, Any]]:
    """A fresh server and hall; one measured round per kiosk count."""
    from live import LiveServer

    tmp = Path(tempfile.mkdtemp(prefix="novbe-bench-"))
    # Rate limiting stays on (bench-center.toml allows 1,000,000 a minute): its cost is part of every issue.
    env = {"NOVBE_SYNCHRONOUS": args.sync, "NOVBE_RATELIMIT_ENABLED": "true"}
    wrapped = args.trace or args.hall == "server"
    if wrapped:
        env.update({"NOVBE_BENCH_TRACE": str(tmp / "trace"), "NOVBE_BENCH_GC": args.gc})
        if args.yield_s:
            env["NOVBE_BENCH_YIELD"] = str(args.yield_s)
        if args.hall == "server" and args.keep_waiting:
            env["NOVBE_BENCH_HALL"] = str(args.keep_waiting)
    server = traced_server(tmp, env) if wrapped else LiveServer(tmp, center=CENTER, env=env)
    server.start(gevent=args.mode == "gevent")
    ctx = mp.get_context("fork")
    ready, stop, hall_out = ctx.Event(), ctx.Event(), ctx.Queue()
    worker = None
    if args.keep_waiting:
        worker = ctx.Process(target=hall, args=(str(server.db), CENTER, args.keep_waiting, server.offset,
                                                ready, stop, hall_out, args.hall == "process"))
        worker.start()
        ready.wait(60)
    drive = drive_loop if args.client == "loop" else drive_processes
    results = []
    traces = 0
    try:
        drive(server.port, [server.kiosk_token("kiosk-1")], args.keep_waiting + 100)    # fill the hall
        if args.trace:
            take_trace(server, traces)
            traces += 1
        for n in counts:
            tokens = [server.kiosk_token(_kiosk(i)[0]) for i in range(n)]
            cpu0 = cpu_seconds(server.proc.pid)
            samples, client_cpu = drive(server.port, tokens, args.requests)
            server_cpu = cpu_seconds(server.proc.pid) - cpu0
            lat = [s[2] - s[1] for s in samples]
            wall = max(s[2] for s in samples) - min(s[1] for s in samples)
            r: dict[str, Any] = {
                "clients": n, "requests": len(lat), "errors": sum(1 for s in samples if s[3] != 201),
                "tickets_per_s": len(lat) / wall, "p50_ms": statistics.median(lat) * 1000,
                "p99_ms": percentile(lat, 99) * 1000, "client_cpu": client_cpu / wall,
                "server_cpu": server_cpu / wall, "samples": samples}
            if args.trace:
                r["trace"] = take_trace(server, traces)
                traces += 1
            results.append(r)
    finally:
        if worker is not None:
            stop.set()
            txs = hall_out.get(timeout=60)
            worker.join()
            for r in results:
                if args.hall == "server":
                    r["hall"] = r.get("trace", {}).get("hall", [])
                else:
                    first, last = min(s[1] for s in r["samples"]), max(s[2] for s in r["samples"])
                    r["hall"] = [x for x in txs if first - 1 <= x[0] <= last]
        total, dups, gaps = check_numbers(server.db)
        rss = rss_kb(server.proc.pid) if server.proc else 0
        server.stop()
    print(f"  numbers: {total} tickets, {dups} duplicates, {gaps} skipped; server RSS {rss / 1024:.0f} MB")
    shutil.rmtree(tmp)      # kept (with server.log) only when the run failed
    return results


def traced_server(tmp: Path, env: dict[str, str]) -> Any:
    """A LiveServer whose ``novbe`` runs under bench/serve_traced.py."""
    import subprocess

    from live import LiveServer

    class Traced(LiveServer):
        def start(self, *, gevent: bool = False) -> "Traced":
            run_env = {**os.environ, "NOVBE_CLOCK_OFFSET": str(self.offset), "PYTHONUNBUFFERED": "1",
                       **self.extra_env}
            if gevent:
                run_env["NOVBE_ASYNC_MODE"] = "gevent"
            self.gevent = gevent
            with open(self.log, "ab") as log:
                self.proc = subprocess.Popen(
                    [sys.executable, str(ROOT / "bench" / "serve_traced.py"), "run", "--config", self.center,
                     "--db", str(self.db), "--port", str(self.port)],
                    cwd=ROOT, env=run_env, stdout=log, stderr=subprocess.STDOUT)
            self.wait_healthy()
            return self

    return Traced(tmp, center=CENTER, env=env)


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


# --- what the slow requests have in common ------------------------------------------------------

def _overlaps(spans: list[tuple[float, float]], a: float, b: float) -> bool:
    return any(s < b and e > a for s, e in spans)


def explain(r: dict[str, Any]) -> list[str]:
    """Lines comparing the slowest 1 % of a round's requests with the others (needs --trace)."""
    tr, samples = r["trace"], r["samples"]
    batch_of = {num: (b0, b1, len(nums)) for b0, b1, nums in tr["batch"] for num in nums if num}
    gcs = [(s, e, g) for s, e, g in tr["gc"]]
    gc2 = [(s, e) for s, e, g in gcs if g == 2]
    gc_long = [(s, e) for s, e, g in gcs if e - s > 0.002]
    hall = [(b, c) for _, b, c in r.get("hall", [])]
    commits = [(t2, t3) for _, _, t2, t3 in tr["write"]]
    begins = [(t0, t1) for t0, t1, _, _ in tr["write"] if t1 - t0 > 0.005]
    slow_commits = [(a, b) for a, b in commits if b - a > 0.005]
    cut = percentile([s[2] - s[1] for s in samples], 99)
    rows: dict[str, list[tuple[float, ...]]] = {"slowest 1 %": [], "the rest": []}
    for _, sent, done, _, num in samples:
        b = batch_of.get(num)
        if b is None:
            continue
        rows["slowest 1 %" if done - sent >= cut else "the rest"].append((
            done - sent, b[0] - sent, b[1] - b[0], done - b[1], b[2],
            _overlaps(gc2, sent, done), _overlaps(gc_long, sent, done), _overlaps(hall, sent, done),
            _overlaps(slow_commits, sent, done), _overlaps(begins, sent, done)))
    out = []
    for name, xs in rows.items():
        if not xs:
            continue
        med = [statistics.median(x[i] for x in xs) * 1000 for i in range(4)]
        share = [100 * sum(1 for x in xs if x[i]) / len(xs) for i in range(5, 10)]
        out.append(f"    {name:11} ({len(xs):5}): latency {med[0]:6.1f} ms = before its batch {med[1]:5.1f} + batch "
                   f"{med[2]:5.1f} + after {med[3]:5.1f} (medians); batch size {statistics.median(x[4] for x in xs):4.0f}; "
                   f"overlapping a gen-2 GC {share[0]:3.0f} %, a GC > 2 ms {share[1]:3.0f} %, the hall holding the "
                   f"lock {share[2]:3.0f} %, a COMMIT > 5 ms {share[3]:3.0f} %, a lock+BEGIN wait > 5 ms "
                   f"{share[4]:3.0f} %")
    sizes = [len(n) for _, _, n in tr["batch"]]
    durations = [(b1 - b0) * 1000 for b0, b1, _ in tr["batch"]]
    by_gen = {g: [(e - s) * 1000 for s, e, gg in gcs if gg == g] for g in (0, 1, 2)}
    commit_ms = [(b - a) * 1000 for a, b in commits]
    begin_ms = [(t1 - t0) * 1000 for t0, t1, _, _ in tr["write"]]
    out.append(f"    batches {len(sizes)}, size mean {statistics.fmean(sizes):.1f} max {max(sizes)}; batch time p50 "
               f"{statistics.median(durations):.1f} p99 {percentile(durations, 99):.1f} max {max(durations):.1f} ms; "
               f"COMMIT+publish p50 {statistics.median(commit_ms):.2f} p99 {percentile(commit_ms, 99):.2f} "
               f"max {max(commit_ms):.1f} ms; lock+BEGIN p50 {statistics.median(begin_ms):.2f} p99 "
               f"{percentile(begin_ms, 99):.2f} max {max(begin_ms):.1f} ms")
    out.append("    GC: " + ", ".join(f"gen {g} x{len(v)} (max {max(v):.1f} ms, total {sum(v):.0f} ms)"
                                   for g, v in by_gen.items() if v))
    if hall:
        waits = [(locked - asked) * 1000 for asked, locked, _ in r["hall"]]
        held = [(c - locked) * 1000 for _, locked, c in r["hall"]]
        out.append(f"    hall tx: {len(hall)}, waited for the lock p50 {statistics.median(waits):.1f} max "
                   f"{max(waits):.1f} ms, held p50 {statistics.median(held):.1f} p99 {percentile(held, 99):.1f} "
                   f"max {max(held):.1f} ms")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--requests", type=int, default=800, help="requests per kiosk in each round")
    ap.add_argument("--clients", default="1,2,4,8", help="comma-separated kiosk counts, one round each")
    ap.add_argument("--mode", default="threading", choices=["threading", "gevent"], help="server async mode")
    ap.add_argument("--client", default="loop", choices=["loop", "processes"], help="how the kiosks are driven")
    ap.add_argument("--runs", type=int, default=3, help="runs (a fresh server each); medians are printed")
    ap.add_argument("--keep-waiting", type=int, default=200,
                    help="counters in another process keep about this many waiting (0: nobody is served)")
    ap.add_argument("--sync", default="FULL", choices=["FULL", "NORMAL"], help="SQLite synchronous for the run")
    ap.add_argument("--trace", action="store_true", help="run the server under bench/serve_traced.py and explain p99")
    ap.add_argument("--hall", default="server", choices=["server", "process"],
                    help="where the hall's 20 ms transaction runs: inside the server through its store, as a "
                         "center's writes (the server then runs under bench/serve_traced.py), or in its own "
                         "process, contending for SQLite's file lock (the first version of this bench)")
    ap.add_argument("--gc", default="", help="with --trace or --hall server: freeze or threshold:N in the server (measuring only)")
    ap.add_argument("--yield", dest="yield_s", type=float, default=0.0,
                    help="with --trace or --hall server: the combiner yields with time.sleep(this) instead of sleep(0) (measuring only)")
    args = ap.parse_args()
    counts = [int(x) for x in args.clients.split(",")]

    print(f"server: {args.mode}, synchronous={args.sync}, client: {args.client}; "
          + (f"counters keep about {args.keep_waiting} waiting" if args.keep_waiting else "nobody is served")
          + f"; the hall's transaction in the {args.hall}"
          + (f"; gc={args.gc or 'default'}, combiner yield {args.yield_s or 0} s" if args.hall == "server" else "")
          + ("; traced" if args.trace else ""))
    runs: list[list[dict[str, Any]]] = []
    for k in range(args.runs):
        print(f"run {k + 1}:")
        results = run_once(args, counts)
        runs.append(results)
        for r in results:
            print(f"  {r['clients']} kiosk(s): {r['requests']} tickets, {r['tickets_per_s']:.0f} tickets/s, "
                  f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, errors {r['errors']}; CPU: server "
                  f"{r['server_cpu']:.2f}, clients {r['client_cpu']:.2f} (cores)")
            if args.trace:
                print("\n".join(explain(r)))
    print(f"median of {args.runs} run(s) [min-max]:")
    for i, n in enumerate(counts):
        def fig(key: str, fmt: str) -> str:
            xs = [run[i][key] for run in runs]
            return f"{statistics.median(xs):{fmt}} [{min(xs):{fmt}}-{max(xs):{fmt}}]"
        print(f"  {n} kiosk(s): {fig('tickets_per_s', '.0f')} tickets/s, p50 {fig('p50_ms', '.1f')} ms, "
              f"p99 {fig('p99_ms', '.1f')} ms")


if __name__ == "__main__":
    main()
