"""Abuse of the board's audio route: /api/services latency while anonymous clients ask for audio.

Starts ``novbe run`` (the default center) on a loopback port over a fresh database with its
own voice cache, makes one real call (so one real announcement is cached), then measures
``GET /api/services`` latency with nothing else going on, and again while 8 threads in
another process send unique ``/display/audio`` requests for numbers that were never called
(at least --burst of them, for at least --seconds). Prints medians, the audio answers'
status codes, how many call files the cache holds afterwards and whether the real
announcement survived. Asserts nothing.

    .venv/bin/python bench/audio_abuse.py [--burst 240] [--seconds 5] [--rate 0] [--threads 8]
"""
from __future__ import annotations

import argparse
import http.client
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def bogus_paths() -> Iterator[str]:
    """Unique audio requests for never-called numbers, valid in form, spread over counters."""
    for i in range(10_000 * 30):
        yield f"/display/audio?number=B-{i // 30 % 9999 + 1:04d}&counter={i % 30 + 1}"


def burst(port: int, least: int, seconds: float, threads: int, rate: float,
          out: "mp.Queue[tuple[Counter[int], float]]") -> None:
    """Send unique bogus requests from ``threads`` connections: at least ``least``, for ``seconds``.

    ``rate`` caps the requests per second of all threads together (0: as fast as answered).
    """
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    todo = bogus_paths()
    sent = [0]
    start = time.perf_counter()

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                if sent[0] >= least and time.perf_counter() - start >= seconds:
                    break
                path = next(todo)
                sent[0] += 1
                due = start + sent[0] / rate if rate else 0.0
            if due > time.perf_counter():
                time.sleep(due - time.perf_counter())
            conn.request("GET", path)
            resp = conn.getresponse()
            resp.read()
            with lock:
                statuses[resp.status] += 1
        conn.close()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    out.put((statuses, time.perf_counter() - start))


def sample_services(port: int, stop: threading.Event, every: float = 0.02) -> list[float]:
    """GET /api/services latencies (ms) until ``stop`` is set."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    lat: list[float] = []
    while not stop.is_set():
        t0 = time.perf_counter()
        conn.request("GET", "/api/services")
        conn.getresponse().read()
        lat.append((time.perf_counter() - t0) * 1000)
        time.sleep(every)
    conn.close()
    return lat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=240, help="at least this many unique bogus audio requests")
    parser.add_argument("--seconds", type=float, default=5.0, help="and for at least this long")
    parser.add_argument("--rate", type=float, default=0.0, help="cap on bogus requests per second (0: none)")
    parser.add_argument("--threads", type=int, default=8, help="concurrent connections of the burst")
    args = parser.parse_args()

    import requests
    from live import LiveServer

    with tempfile.TemporaryDirectory(prefix="novbe-audio-bench-") as tmp:
        cache = Path(tmp) / "voice-cache"
        server = LiveServer(Path(tmp), env={"NOVBE_VOICE_CACHE": str(cache)}).start()
        try:
            # One real call, and its announcement fetched the way a board fetches it.
            number = server.issue("EMP-01").json()["number"]
            staff = server.login("admin")
            staff.post(server.url + "/api/counters/1/open", timeout=5).raise_for_status()
            called = staff.post(server.url + "/api/counters/1/call-next", timeout=5).json()
            assert called["number"] == number, called
            real = requests.get(server.url + "/display/audio", params={"number": number, "counter": 1}, timeout=30)
            print(f"real call {number} at counter 1: audio {real.status_code}, {len(real.content)} bytes")
            real_files = {p.name for p in cache.glob("call-*.wav")}

            stop = threading.Event()
            box: dict[str, list[float]] = {}
            t = threading.Thread(target=lambda: box.setdefault("lat", sample_services(server.port, stop)))
            t.start()
            time.sleep(3)
            stop.set()
            t.join()
            quiet = box.pop("lat")

            ctx = mp.get_context("fork")
            out: mp.Queue = ctx.Queue()
            stop = threading.Event()
            t = threading.Thread(target=lambda: box.setdefault("lat", sample_services(server.port, stop)))
            t.start()
            proc = ctx.Process(target=burst, args=(server.port, args.burst, args.seconds, args.threads, args.rate, out))
            proc.start()
            statuses, seconds = out.get()
            proc.join()
            stop.set()
            t.join()
            busy = box.pop("lat")

            left = {p.name for p in cache.glob("call-*.wav")}
            print(f"/api/services, quiet: median {statistics.median(quiet):.1f} ms, "
                  f"p90 {percentile(quiet, 90):.1f} ms ({len(quiet)} requests)")
            print(f"/api/services, during the burst: median {statistics.median(busy):.1f} ms, "
                  f"p90 {percentile(busy, 90):.1f} ms, max {max(busy):.1f} ms ({len(busy)} requests)")
            total = sum(statuses.values())
            print(f"burst: {total} unique bogus audio requests from {args.threads} connections in "
                  f"{seconds:.1f} s ({total / seconds:.0f}/s); answers {dict(sorted(statuses.items()))}")
            print(f"cache: {len(left)} call files after the burst; the real call's file "
                  f"{'survived' if real_files and real_files <= left else 'was EVICTED'}")
        finally:
            server.stop()


if __name__ == "__main__":
    os.environ.setdefault("NOVBE_TESTING", "1")
    main()
