"""How fast a call reaches the hall boards: call-next → ``ticket-called`` on N board clients.

Starts the real server (``novbe run`` for the default center, through tests/live.LiveServer)
on a loopback port, connects N python-socketio clients to ``/display`` with a display token
(websocket transport, spread over several processes so the clients are not the bottleneck),
then makes K call-next requests through the JSON API about 50 ms apart and measures, for
every call and every client, the time from sending the request to the client receiving the
matching ``ticket-called`` (matched on the ticket number). Clocks: ``time.time()`` in every
process (one machine, one clock).

    .venv/bin/python bench/board_clients.py                  # 200 clients, 200 calls
    .venv/bin/python bench/board_clients.py --clients 50 --calls 50 --async-mode gevent

Prints p50 / p99 / max over all deliveries, the call-next HTTP time, and the server's RSS
with the clients connected. Loopback only; bounded in count and time (--timeout).
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

TARGET_P99_MS = 50.0


def client_worker(url: str, token: str, count: int, ready: Any, stop: Any, results: Any, timeout: float) -> None:
    """Connect ``count`` board clients, record (number, time) of every ticket-called, report at stop."""
    import socketio

    received: list[tuple[str, float, float]] = []
    clients = []
    failures = 0
    for _ in range(count):
        sio = socketio.Client(reconnection=False)

        def on_called(data: dict[str, Any]) -> None:
            received.append((data.get("number", ""), time.time(), float(data.get("at") or 0.0)))

        sio.on("ticket-called", on_called, namespace="/display")
        sio.on("snapshot", lambda _data: None, namespace="/display")
        try:
            sio.connect(url, namespaces=["/display"], auth={"token": token}, transports=["websocket"],
                        wait_timeout=10)
            clients.append(sio)
        except Exception as exc:  # a refused client is reported, not fatal
            failures += 1
            print(f"client failed to connect: {exc}", file=sys.stderr)
    ready.put((len(clients), failures))
    stop.wait(timeout)
    results.put(received)
    for sio in clients:
        try:
            sio.disconnect()
        except Exception:
            pass


def raw_worker(url: str, token: str, count: int, ready: Any, stop: Any, results: Any, timeout: float) -> None:
    """The same as client_worker with a light client: one thread, one selector, wsproto framing.

    Speaks just enough Engine.IO 4 / Socket.IO 5 over a websocket: open, namespace connect
    with auth, ping/pong, events. It separates the server's fan-out time from the cost of
    200 threaded python-socketio clients on the same small machine.
    """
    import json
    import selectors
    import socket
    from urllib.parse import urlsplit

    from wsproto import ConnectionType, WSConnection
    from wsproto.events import AcceptConnection, CloseConnection, Ping, Request, TextMessage

    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    sel = selectors.DefaultSelector()
    received: list[tuple[str, float, float]] = []
    connected = 0
    auth = "40/display," + json.dumps({"token": token})

    def send(conn: dict[str, Any], text: str) -> None:
        conn["sock"].sendall(conn["ws"].send(TextMessage(data=text)))

    for _ in range(count):
        sock = socket.create_connection((host, port), timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ws = WSConnection(ConnectionType.CLIENT)
        sock.sendall(ws.send(Request(host=f"{host}:{port}", target="/socket.io/?EIO=4&transport=websocket")))
        sel.register(sock, selectors.EVENT_READ, {"sock": sock, "ws": ws, "text": ""})

    def pump(wait: float) -> None:
        nonlocal connected
        for key, _ in sel.select(wait):
            conn = key.data
            data = conn["sock"].recv(65536)
            conn["ws"].receive_data(data or None)
            for event in conn["ws"].events():
                if isinstance(event, TextMessage):
                    conn["text"] += event.data
                    if not event.message_finished:
                        continue
                    msg, conn["text"] = conn["text"], ""
                    if msg.startswith("42/display,"):
                        name, *args = json.loads(msg[len("42/display,"):])
                        if name == "ticket-called" and args:
                            received.append((args[0].get("number", ""), time.time(), float(args[0].get("at") or 0)))
                    elif msg == "2":
                        send(conn, "3")
                    elif msg.startswith("0{"):
                        send(conn, auth)
                    elif msg.startswith("40/display,"):
                        connected += 1
                    elif msg.startswith("44/display"):
                        print(f"refused: {msg}", file=sys.stderr)
                elif isinstance(event, Ping):
                    conn["sock"].sendall(conn["ws"].send(event.response()))
                elif isinstance(event, CloseConnection):
                    sel.unregister(conn["sock"])
                    conn["sock"].close()
                elif isinstance(event, AcceptConnection):
                    pass

    until = time.monotonic() + 30
    while connected < count and time.monotonic() < until:
        pump(0.1)
    ready.put((connected, count - connected))
    end = time.monotonic() + timeout
    while not stop.is_set() and time.monotonic() < end:
        pump(0.05)
    results.put(received)
    for key in list(sel.get_map().values()):
        key.fileobj.close()  # type: ignore[union-attr]
    sel.close()


def rss_kb(pid: int) -> int:
    """A process's resident set size in kB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """A process's user + system CPU time so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1)))))
    return ordered[k]


def prepare_tickets(server: Any, boss: Any, wanted: int) -> int:
    """Open every counter, then issue ``wanted`` tickets spread over the services (within quotas)."""
    from config import loader

    cfg = loader.load(server.center)
    for c in cfg.counters:
        boss.post(f"{server.url}/api/counters/{c.number}/open", timeout=5).raise_for_status()
    issued = 0
    services = [s.code for s in cfg.services]
    full: set[str] = set()
    while issued < wanted and len(full) < len(services):
        for code in services:
            if issued >= wanted:
                break
            if code in full:
                continue
            r = server.issue(code)
            if r.status_code == 201:
                issued += 1
            else:
                full.add(code)
    return issued


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200, help="board clients to connect (default 200)")
    parser.add_argument("--calls", type=int, default=200, help="call-next requests to make (default 200)")
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between calls (default 0.05)")
    parser.add_argument("--procs", type=int, default=8, help="client processes (default 8)")
    parser.add_argument("--async-mode", default="threading", choices=["threading", "gevent"],
                        help="the server's Socket.IO async mode (NOVBE_ASYNC_MODE; default threading)")
    parser.add_argument("--client", default="socketio", choices=["socketio", "raw"],
                        help="python-socketio clients (default), or a light one-thread wsproto client per process")
    parser.add_argument("--timeout", type=float, default=180.0, help="give up after this many seconds")
    args = parser.parse_args(argv)
    if not (1 <= args.clients <= 2000 and 1 <= args.calls <= 400 and 1 <= args.procs <= 32):
        parser.error("keep it bounded: 1-2000 clients, 1-400 calls (the center's daily capacity), 1-32 procs")
    deadline = time.monotonic() + args.timeout

    from live import LiveServer

    with tempfile.TemporaryDirectory(prefix="novbe-bench-") as tmp:
        server = LiveServer(Path(tmp)).start(gevent=args.async_mode == "gevent")
        assert server.proc is not None
        boss = server.login("boss")
        ctx = mp.get_context("spawn")
        stop = ctx.Event()
        ready: Any = ctx.Queue()
        results: Any = ctx.Queue()
        workers = []
        try:
            tickets = prepare_tickets(server, boss, args.calls)
            token = server.display_token("hall-1")
            rss_before = rss_kb(server.proc.pid)
            per = [args.clients // args.procs + (1 if i < args.clients % args.procs else 0) for i in range(args.procs)]
            for count in per:
                if count:
                    p = ctx.Process(target=client_worker if args.client == "socketio" else raw_worker,
                                    args=(server.url, token, count, ready, stop, results, args.timeout))
                    p.start()
                    workers.append(p)
            connected = failed = 0
            for _ in workers:
                n, f = ready.get(timeout=max(1.0, deadline - time.monotonic()))
                connected += n
                failed += f
            time.sleep(1.0)   # let the connect snapshots settle
            rss_connected = rss_kb(server.proc.pid)
            cpu_start, wall_start = cpu_seconds(server.proc.pid), time.monotonic()
            load_start = os.getloadavg()[0]

            # Counters in turn: finish the counter's previous ticket, then call the next one.
            from config import loader

            counters = [c.number for c in loader.load(server.center).counters]
            holding: dict[int, bool] = {}
            sent: dict[str, float] = {}
            http_ms: list[float] = []
            idle: set[int] = set()
            i = 0
            while len(sent) < min(args.calls, tickets) and len(idle) < len(counters) and time.monotonic() < deadline:
                counter = counters[i % len(counters)]
                i += 1
                if counter in idle:
                    continue
                if holding.get(counter):
                    boss.post(f"{server.url}/api/counters/{counter}/finish", json={"outcome": "served"},
                              timeout=5).raise_for_status()
                    holding[counter] = False
                t0 = time.time()
                r = boss.post(f"{server.url}/api/counters/{counter}/call-next", timeout=5)
                t1 = time.time()
                body = r.json()
                if not r.ok or not body.get("number"):
                    idle.add(counter)      # nothing it serves is waiting, or its daily limit is reached
                    continue
                holding[counter] = True
                sent[body["number"]] = t0
                http_ms.append((t1 - t0) * 1000)
                time.sleep(max(0.0, args.interval - (time.time() - t0)))
            server_cpu = cpu_seconds(server.proc.pid) - cpu_start
            wall = time.monotonic() - wall_start
            load = os.getloadavg()[0]
            time.sleep(1.5)       # the last deliveries
            stop.set()
            latencies: list[float] = []
            fanout: list[float] = []
            unmatched = 0
            for _ in workers:
                for number, got, at in results.get(timeout=max(1.0, deadline - time.monotonic() + 10)):
                    if number in sent:
                        latencies.append((got - sent[number]) * 1000)
                        # The event's "at" is the center clock at commit: real time + the test offset.
                        fanout.append((got - (at - server.offset)) * 1000)
                    else:
                        unmatched += 1
        finally:
            stop.set()
            for p in workers:
                p.join(10)
                if p.is_alive():
                    p.terminate()
                    p.join(5)
            boss.close()
            server.stop()

    expected = connected * len(sent)
    print(f"server: novbe run, async mode {args.async_mode}, {os.cpu_count()} CPUs; "
          f"{connected} {args.client} board clients connected ({failed} failed) in {len(workers)} processes")
    print(f"calls: {len(sent)} call-next requests ~{args.interval * 1000:.0f} ms apart; "
          f"HTTP call-next p50 {statistics.median(http_ms):.1f} ms, p99 {percentile(http_ms, 99):.1f} ms")
    print(f"deliveries: {len(latencies)} of {expected} expected ({expected - len(latencies)} missing, "
          f"{unmatched} unmatched)")
    if latencies:
        p50, p99, worst = statistics.median(latencies), percentile(latencies, 99), max(latencies)
        print(f"call-next → ticket-called: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {worst:.1f} ms "
              f"(target p99 ≤ {TARGET_P99_MS:.0f} ms: {'met' if p99 <= TARGET_P99_MS else 'NOT met'})")
        print(f"  of which commit → received: p50 {statistics.median(fanout):.1f} ms, "
              f"p99 {percentile(fanout, 99):.1f} ms")
    print(f"server RSS: {rss_before / 1024:.1f} MiB before clients, {rss_connected / 1024:.1f} MiB "
          f"with {connected} clients connected")
    print(f"server CPU during the calls: {server_cpu:.1f} s in {wall:.1f} s ({100 * server_cpu / wall:.0f}% of one "
          f"core); load average {load_start:.1f} → {load:.1f} on {os.cpu_count()} CPUs")
    return 0 if latencies and len(latencies) == expected else 1


if __name__ == "__main__":
    sys.exit(main())
