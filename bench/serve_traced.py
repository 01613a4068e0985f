"""``novbe`` with timing probes, for bench/issue_http.py --trace: where an issue's time goes.

Runs the unchanged ``server.cli`` (gevent's monkey patching first, as ``novbe run`` does) after
wrapping, from outside, what an issue passes through: every issuing batch (start, end, the
numbers it issued), the store's write transaction (waiting for the lock and BEGIN, the body,
COMMIT with the subscribers), every request the WSGI app handles, and the interpreter's
garbage collections (``gc.callbacks``). All times are ``time.monotonic()``, which on Linux is
the same clock in every process, so the bench can lay them next to its own.

On SIGUSR1 the records so far are written as JSON to ``$NOVBE_BENCH_TRACE.<n>`` and cleared.
``NOVBE_BENCH_HALL=<keep>``: the bench's hall runs in this process, through the store (see
``_hall``). ``NOVBE_BENCH_GC``: ``freeze`` (``gc.freeze()`` once the app is built: the start-up objects are
never scanned again) or ``threshold:N`` (generation-0 threshold N); ``NOVBE_BENCH_YIELD=<s>``:
the combiner yields with ``time.sleep(s)`` instead of its own yield (``gevent.idle()`` under gevent,
``time.sleep(0)`` with threads; before, ``time.sleep(0)`` in both): for measuring only. (``novbe run``
now calls ``gc.freeze()`` itself, so ``freeze`` changes nothing any more.)
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import server.cli  # noqa: E402  (first: under gevent it monkey-patches before threading is imported)

import gc  # noqa: E402
import json  # noqa: E402
import signal  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from typing import Any  # noqa: E402

from server import app as app_module  # noqa: E402
from server import store as store_module  # noqa: E402
from server.core import queue  # noqa: E402

now = time.monotonic
records: dict[str, list[Any]] = {"batch": [], "write": [], "request": [], "gc": [], "hall": []}
_dumps = 0


def _issue_tickets(store: Any, requests: Any) -> Any:
    t0 = now()
    out = _orig_issue(store, requests)
    records["batch"].append((t0, now(), [getattr(getattr(r, "ticket", None), "number", None) for r in out]))
    return out


@contextmanager
def _write(self: Any) -> Iterator[Any]:
    t0 = now()
    cm = _orig_write(self)
    tx = cm.__enter__()
    t1 = now()
    try:
        yield tx
    except BaseException:
        if not cm.__exit__(*sys.exc_info()):
            raise
    else:
        t2 = now()
        cm.__exit__(None, None, None)
        records["write"].append((t0, t1, t2, now()))


_gc_start: list[float] = [0.0]


def _gc(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _gc_start[0] = now()
    else:
        records["gc"].append((_gc_start[0], now(), info["generation"]))


def _create_app(*args: Any, **kwargs: Any) -> Any:
    flask_app = _orig_create_app(*args, **kwargs)
    inner = flask_app.wsgi_app

    def wsgi(environ: Any, start_response: Any) -> Any:
        t0 = now()
        try:
            return inner(environ, start_response)
        finally:
            records["request"].append((t0, now(), environ.get("PATH_INFO")))

    flask_app.wsgi_app = wsgi  # type: ignore[method-assign]
    setting = os.environ.get("NOVBE_BENCH_GC", "")
    if setting == "freeze":
        gc.collect()
        gc.freeze()
    elif setting.startswith("threshold:"):
        gc.set_threshold(int(setting.split(":")[1]), *gc.get_threshold()[1:])
    keep = os.environ.get("NOVBE_BENCH_HALL")
    if keep:
        from server.realtime import socketio

        socketio.start_background_task(_hall, flask_app.extensions["novbe"].store, int(keep))
    return flask_app


def _hall(store: Any, keep: int) -> None:
    """bench/issue_http.py's hall, but through this server's store, as a center's counters write:
    every 20 ms the oldest tickets beyond ``keep`` are served, in one write transaction."""
    while True:
        time.sleep(0.02)
        stamp = store.clock()
        day = queue.clock.business_day(stamp, store.cfg.tz)
        asked = now()
        with _orig_write(store) as tx:
            locked = now()
            conn = tx.conn
            waiting = conn.execute("SELECT count(*) FROM tickets WHERE day = ? AND status = 'waiting'",
                                   (day,)).fetchone()[0]
            if waiting > keep:
                conn.execute("UPDATE tickets SET status = 'done', outcome = 'served', called_at = ?, "
                             "started_at = ?, finished_at = ? WHERE id IN (SELECT id FROM tickets WHERE day = ? "
                             "AND status = 'waiting' ORDER BY issued_at, id LIMIT ?)",
                             (stamp, stamp, stamp, day, waiting - keep))
        records["hall"].append((asked, locked, now()))


def _dump(signum: int, frame: Any) -> None:
    global _dumps
    path = Path(f"{os.environ['NOVBE_BENCH_TRACE']}.{_dumps}")
    _dumps += 1
    data = {k: list(v) for k, v in records.items()}
    for v in records.values():
        v.clear()
    path.with_suffix(".tmp").write_text(json.dumps(data))
    path.with_suffix(".tmp").rename(path)


_orig_issue = queue.issue_tickets
_orig_write = store_module.SQLiteStore.write
_orig_create_app = app_module.create_app
queue.issue_tickets = _issue_tickets                # app.py looks it up on the module at each batch
store_module.SQLiteStore.write = _write             # type: ignore[method-assign]
app_module.create_app = _create_app                 # cli.run imports it from the module when it runs
gc.callbacks.append(_gc)
if os.environ.get("NOVBE_BENCH_YIELD"):

    from server import combine

    _pause = float(os.environ["NOVBE_BENCH_YIELD"])
    # In place of the combiner's own yield (gevent.idle() under gevent, time.sleep(0) with threads).
    combine._let_others_in = lambda gevent_idle: time.sleep(_pause)  # type: ignore[assignment]
signal.signal(signal.SIGUSR1, _dump)

if __name__ == "__main__":
    server.cli.main()
