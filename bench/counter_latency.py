"""From a counter's call-next to the counter pages and the hall: p50 / p99 with 30 counters and 100 boards.

Starts the real server (``novbe run`` for the default center through tests/live.LiveServer) on a
loopback port, makes 30 operator accounts (through the admin API), each of which opens its own
counter, connects one logged-in ``/counter`` client per operator (python-socketio with the
session cookie) and 100 ``/display`` clients (a hall-1 token), in separate processes. Then it
makes about 200 call-next requests, round robin over the counters (each counter's previous
ticket is finished half an interval before), and measures for every call:

    (a) request sent → each of the 30 counter clients receives the ``ticket-called`` event
    (a') request sent → each counter client's state includes the call: the clients behave like the
         counter page (an event about nothing the page shows only moves its sequence number on;
         any other newer event makes it ask for its counter's ``counter-snapshot``, one request in
         flight, a token bucket of 4 refilled at 4/s), so this is when the page is up to date
    (b) request sent → each of the 100 hall clients receives ``ticket-called``

Clocks: ``time.time()`` in every process (one machine). Loopback only; bounded (≤ 400 calls,
≤ 60 counter clients, ≤ 500 hall clients, --timeout).

    .venv/bin/python bench/counter_latency.py                       # 30 counters, 100 boards, 200 calls
    .venv/bin/python bench/counter_latency.py --interval 1.0 --calls 60
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

TARGET_P99_MS = 100.0
BURST, PER_SECOND = 4, 4.0     # the counter page's snapshot coalescing (counter/static/counter/common.js)


class PageLike:
    """One /counter client that follows the hall like the counter page does."""

    def __init__(self, url: str, cookie: str, counter: int, follow: bool = True) -> None:
        import socketio

        self.follow = follow
        self.counter = counter
        self.sio = socketio.Client(reconnection=False)
        self.lock = threading.Lock()
        self.seq = -1
        self.events: list[tuple[str, int, float, bool]] = []   # (number, seq, received, refreshed) of ticket-called
        self.applied: list[tuple[int, float]] = []         # (seq, when) the page's state reached seq
        self.services: set[str] = set()
        self.in_flight = False
        self.pending = False
        self.tokens = float(BURST)
        self.refilled = time.monotonic()
        self.timer: threading.Timer | None = None
        self.sio.on("snapshot", self._apply, namespace="/counter")
        self.sio.on("*", self._event, namespace="/counter")
        import requests

        # A /counter socket needs the session's CSRF token, as the page has it from /api/me.
        csrf = requests.get(url + "/api/me", headers={"Cookie": cookie}, timeout=10).json()["csrf_token"]
        self.sio.connect(url, namespaces=["/counter"], headers={"Cookie": cookie}, auth={"csrf_token": csrf},
                         transports=["websocket"], wait_timeout=10)

    def _apply(self, snap: dict[str, Any] | None) -> None:
        now = time.time()
        with self.lock:
            if snap and snap.get("seq", -1) >= self.seq:
                self.seq = snap["seq"]
                self.applied.append((self.seq, now))
                mine = next((c for c in snap.get("counters", ()) if c["number"] == self.counter), None)
                if mine and "services" in mine:
                    self.services = set(mine["services"])

    def _relevant(self, name: str, e: dict[str, Any]) -> bool:
        """The page's rule (counter/static/counter/counter.js): does this event change what it shows?"""
        if name == "counter-changed" or self.counter in (e.get("counter"), e.get("to_counter")):
            return True
        return e.get("service") in self.services or e.get("from_service") in self.services

    def _event(self, name: str, data: Any) -> None:
        now = time.time()
        seq = data.get("seq", 0) if isinstance(data, dict) else 0
        skip = False
        if self.follow:
            with self.lock:
                skip = isinstance(data, dict) and seq == self.seq + 1 and not self._relevant(name, data)
                if skip:   # the next event, about nothing this page shows: the page's state is current
                    self.seq = seq
                    self.applied.append((seq, now))
        if name == "ticket-called":
            self.events.append((data.get("number", ""), seq, now, self.follow and not skip))
        if self.follow and not skip and seq > self.seq:
            self.request()

    def request(self) -> None:
        with self.lock:
            if self.in_flight:
                self.pending = True
                return
            now = time.monotonic()
            self.tokens = min(BURST, self.tokens + (now - self.refilled) * PER_SECOND)
            self.refilled = now
            if self.tokens < 1:
                if self.timer is None:
                    self.timer = threading.Timer((1 - self.tokens) / PER_SECOND, self._timer_fired)
                    self.timer.daemon = True
                    self.timer.start()
                return
            self.tokens -= 1
            self.in_flight = True
            self.pending = False
        self.sio.emit("counter-snapshot", {"counter": self.counter}, namespace="/counter", callback=self._answer)

    def _timer_fired(self) -> None:
        with self.lock:
            self.timer = None
        self.request()

    def _answer(self, snap: dict[str, Any] | None = None) -> None:
        self._apply(snap)
        with self.lock:
            self.in_flight = False
            again = self.pending
        if again:
            self.request()


def counter_worker(url: str, cookies: list[tuple[str, int]], follow: bool, ready: Any, stop: Any, results: Any,
                   timeout: float) -> None:
    clients: list[PageLike] = []
    failures = 0
    for cookie, counter in cookies:
        try:
            clients.append(PageLike(url, cookie, counter, follow))
        except Exception as exc:
            failures += 1
            print(f"counter client failed to connect: {exc}", file=sys.stderr)
    ready.put((len(clients), failures))
    stop.wait(timeout)
    time.sleep(1.0)   # let the last snapshots land
    results.put(("counter", [(c.events, c.applied) for c in clients]))
    for c in clients:
        try:
            c.sio.disconnect()
        except Exception:
            pass


def hall_worker(url: str, token: str, count: int, ready: Any, stop: Any, results: Any, timeout: float) -> None:
    import socketio

    received: list[tuple[str, float]] = []
    clients = []
    failures = 0
    for _ in range(count):
        sio = socketio.Client(reconnection=False)
        sio.on("ticket-called", lambda data: received.append((data.get("number", ""), time.time())), namespace="/display")
        sio.on("snapshot", lambda _data: None, namespace="/display")
        try:
            sio.connect(url, namespaces=["/display"], auth={"token": token}, transports=["websocket"], wait_timeout=10)
            clients.append(sio)
        except Exception as exc:
            failures += 1
            print(f"hall client failed to connect: {exc}", file=sys.stderr)
    ready.put((len(clients), failures))
    stop.wait(timeout)
    results.put(("hall", received))
    for sio in clients:
        try:
            sio.disconnect()
        except Exception:
            pass


def cpu_seconds(pid: int) -> float:
    """A process's user + system CPU time so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def raw_hall_worker(url: str, token: str, count: int, ready: Any, stop: Any, results: Any, timeout: float) -> None:
    """bench/board_clients.py's light client, its results tagged as hall deliveries."""
    sys.path.insert(0, str(ROOT / "bench"))
    from board_clients import raw_worker

    class Tag:
        def put(self, received: list[tuple[str, float, float]]) -> None:
            results.put(("hall", [(number, at) for number, at, _ in received]))

    raw_worker(url, token, count, ready, stop, Tag(), timeout)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[max(0, min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1)))))]


def figures(name: str, ms: list[float], expected: int) -> str:
    if not ms:
        return f"  {name}: nothing received"
    return (f"  {name}: p50 {percentile(ms, 50):6.1f} ms   p99 {percentile(ms, 99):6.1f} ms   "
            f"max {max(ms):6.1f} ms   ({len(ms)} of {expected} deliveries)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counters", type=int, default=30, help="logged-in /counter clients, one per counter (30)")
    parser.add_argument("--halls", type=int, default=100, help="/display clients (100)")
    parser.add_argument("--calls", type=int, default=200, help="call-next requests (200)")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between calls (0.2)")
    parser.add_argument("--procs", type=int, default=4, help="processes for the hall clients (4)")
    parser.add_argument("--async-mode", default="threading", choices=["threading", "gevent"],
                        help="the server's Socket.IO async mode (default threading)")
    parser.add_argument("--hall-client", default="socketio", choices=["socketio", "raw"],
                        help="python-socketio hall clients (default), or bench/board_clients.py's light one-thread "
                             "wsproto client per process (less client CPU on a small shared machine)")
    parser.add_argument("--events-only", action="store_true",
                        help="counter clients only listen (no snapshot requests): isolates the fan-out")
    parser.add_argument("--timeout", type=float, default=240.0, help="give up after this many seconds (240)")
    args = parser.parse_args(argv)
    if not (1 <= args.counters <= 30 and 1 <= args.halls <= 500 and 1 <= args.calls <= 400
            and 1 <= args.procs <= 16 and 0.01 <= args.interval <= 5):
        parser.error("keep it bounded: 1-30 counters, 1-500 hall clients, 1-400 calls, 1-16 procs, 0.01-5 s apart")
    deadline = time.monotonic() + args.timeout

    import requests

    from config import loader
    from live import LiveServer

    cfg = loader.load("absheron")
    counters = [c.number for c in cfg.counters][: args.counters]
    with tempfile.TemporaryDirectory(prefix="novbe-bench-") as tmp:
        server = LiveServer(Path(tmp), env={"NOVBE_ASYNC_MODE": args.async_mode}).start()
        assert server.proc is not None
        admin = server.login("admin")
        sessions: dict[int, requests.Session] = {}
        ctx = mp.get_context("spawn")
        stop = ctx.Event()
        ready: Any = ctx.Queue()
        results: Any = ctx.Queue()
        workers = []
        try:
            # One operator per counter, each opening their own counter.
            for n in counters:
                name, password = f"bench-op{n}", f"bench-pass-{n}"
                admin.post(server.url + "/api/users", json={"username": name, "password": password, "role": "operator"},
                           timeout=10).raise_for_status()
                s = requests.Session()
                r = s.post(server.url + "/api/login", json={"username": name, "password": password}, timeout=10)
                r.raise_for_status()
                s.headers["X-CSRFToken"] = r.json()["csrf_token"]
                s.post(f"{server.url}/api/counters/{n}/open", timeout=5).raise_for_status()
                sessions[n] = s
            # Tickets spread over the services until there are enough.
            issued, full = 0, set[str]()
            services = [s.code for s in cfg.services]
            while issued < args.calls + 20 and len(full) < len(services):
                for code in services:
                    if code in full or issued >= args.calls + 20:
                        continue
                    if server.issue(code).status_code == 201:
                        issued += 1
                    else:
                        full.add(code)
            cookies = [("; ".join(f"{c.name}={c.value}" for c in sessions[n].cookies), n) for n in counters]
            halves = [cookies[: len(cookies) // 2], cookies[len(cookies) // 2:]]
            for part in halves:
                if part:
                    p = ctx.Process(target=counter_worker, args=(server.url, part, not args.events_only, ready, stop, results,
                                                                args.timeout))
                    p.start()
                    workers.append(p)
            per = [args.halls // args.procs + (1 if i < args.halls % args.procs else 0) for i in range(args.procs)]
            for count in per:
                if count:
                    target = hall_worker if args.hall_client == "socketio" else raw_hall_worker
                    p = ctx.Process(target=target, args=(server.url, server.display_token("hall-1"), count, ready,
                                                        stop, results, args.timeout))
                    p.start()
                    workers.append(p)
            connected = failed = 0
            for _ in workers:
                n_ok, n_bad = ready.get(timeout=max(1.0, deadline - time.monotonic()))
                connected += n_ok
                failed += n_bad
            time.sleep(1.0)
            cpu_start, wall_start = cpu_seconds(server.proc.pid), time.monotonic()
            load_start = os.getloadavg()[0]

            # Round robin over the counters: finish the previous ticket, wait half an interval, call.
            holding: dict[int, bool] = {}
            idle: set[int] = set()
            sent: dict[str, float] = {}
            http_ms: list[float] = []
            i = 0
            while len(sent) < args.calls and len(idle) < len(counters) and time.monotonic() < deadline:
                n = counters[i % len(counters)]
                i += 1
                if n in idle:
                    continue
                s = sessions[n]
                if holding.get(n):
                    s.post(f"{server.url}/api/counters/{n}/finish", json={"outcome": "served"}, timeout=5).raise_for_status()
                    holding[n] = False
                time.sleep(args.interval / 2)
                t0 = time.time()
                r = s.post(f"{server.url}/api/counters/{n}/call-next", timeout=5)
                http_ms.append((time.time() - t0) * 1000)
                number = r.json().get("number") if r.ok else None
                if not number:
                    idle.add(n)
                    continue
                holding[n] = True
                sent[number] = t0
                time.sleep(args.interval / 2)
            server_cpu = (cpu_seconds(server.proc.pid) - cpu_start) / (time.monotonic() - wall_start)
            load = os.getloadavg()[0]
            time.sleep(1.0)
            stop.set()
            counter_events: list[float] = []
            counter_pages: list[float] = []
            refreshed: list[float] = []
            hall: list[float] = []
            for _ in workers:
                kind, data = results.get(timeout=max(5.0, deadline - time.monotonic() + 10))
                if kind == "hall":
                    hall += [(at - sent[num]) * 1000 for num, at in data if num in sent]
                    continue
                for events, applied in data:
                    for num, seq, at, refresh in events:
                        if num not in sent:
                            continue
                        counter_events.append((at - sent[num]) * 1000)
                        page = next((when for s_seq, when in applied if s_seq >= seq and when >= sent[num]), None)
                        if page is not None:
                            counter_pages.append((page - sent[num]) * 1000)
                            if refresh:
                                refreshed.append((page - sent[num]) * 1000)
            for p in workers:
                p.join(10)
        finally:
            stop.set()
            for p in workers:
                if p.is_alive():
                    p.terminate()
                    p.join(5)
            for s in sessions.values():
                s.close()
            admin.close()
            server.stop()

    calls = len(sent)
    print(f"Növbə counter latency: {len(counters)} counter clients + {args.halls} hall clients "
          f"({connected} connected, {failed} failed), {calls} call-next requests {args.interval * 1000:.0f} ms apart, "
          f"async mode {args.async_mode}, {args.hall_client} hall clients"
          f"{', counter clients listen only' if args.events_only else ''}")
    print(f"  server CPU {server_cpu * 100:.0f} % of one core during the calls; load average {load_start:.1f} → {load:.1f} "
          f"on {os.cpu_count()} CPUs (clients and server share the machine)")
    print(f"  call-next HTTP round trip: p50 {percentile(http_ms, 50):.1f} ms  p99 {percentile(http_ms, 99):.1f} ms")
    print(figures("(a)  counter clients, event received  ", counter_events, calls * len(counters)))
    if not args.events_only:
        print(figures("(a') counter pages, up to date        ", counter_pages, calls * len(counters)))
        print(figures("     … of which fetched a snapshot    ", refreshed, len(refreshed)))
    print(figures("(b)  hall clients, ticket-called      ", hall, calls * args.halls))
    ok = all(percentile(v, 99) <= TARGET_P99_MS for v in (counter_events, hall) if v)
    print(f"  target p99 ≤ {TARGET_P99_MS:.0f} ms for (a) and (b): {'met' if ok else 'NOT met'}"
          f"   (mean (a) {statistics.fmean(counter_events) if counter_events else float('nan'):.1f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
