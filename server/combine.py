"""Requests that arrive together are served together: flat combining for the issuing path.

When kiosks race, each issue would play the hall forecast and commit on its own, one after
the other behind the store's write lock. A :class:`Combiner` lets the first request in
serve every request waiting at that moment in one call (for issuing: one transaction, one
play of the forecast, one commit), then hands over to a request that came in meanwhile.
Alone, a request is served at once, by itself; the only cost is a yield that lets requests on
their way queue up behind it (:func:`_let_others_in`).

Works with real threads and with gevent's patched ``threading`` alike.
"""
from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

Req = TypeVar("Req")
Res = TypeVar("Res")

#: Most requests served by one call (a bound on one batch's latency).
MAX_BATCH = 32


def _let_others_in(gevent_idle: Callable[[], object] | None) -> None:
    """Let requests that are on their way reach the queue before a batch is taken.

    Threads: ``time.sleep(0)`` hands the GIL over. Under gevent, ``sleep(0)`` runs only the
    greenlets already runnable and polls no socket (gevent's documentation says so): a kiosk
    whose next request is already in its socket is then served again and again, alone, while
    the other kiosks' requests sit unread (traced with ``bench/issue_http.py --trace``: 235-263 ms
    waits, p99 124 ms at 8 kiosks). ``gevent.idle()`` returns once the loop has polled and run
    what was ready, so those requests are read and join the batch.
    """
    if gevent_idle is not None:
        gevent_idle()
    else:
        time.sleep(0)


def _patched_idle() -> Callable[[], object] | None:
    """``gevent.idle`` when gevent has patched ``threading`` (the server's gevent mode), else None."""
    try:
        from gevent import idle, monkey
    except ImportError:
        return None
    return idle if monkey.is_module_patched("threading") else None


class _Slot(Generic[Req, Res]):
    __slots__ = ("request", "result", "error", "done", "lead", "ready")

    def __init__(self, request: Req) -> None:
        self.request = request
        self.result: Res | None = None
        self.error: BaseException | None = None
        self.done = False
        self.lead = False
        self.ready = threading.Event()


class Combiner(Generic[Req, Res]):
    """Serve concurrent calls of :meth:`submit` in batches through ``serve``.

    ``serve`` gets the waiting requests in arrival order and returns one result per request
    (an exception in the list is raised to that request's caller alone); an exception
    raised by ``serve`` itself goes to every request of the batch.
    """

    def __init__(self, serve: Callable[[Sequence[Req]], Sequence[Res | BaseException]]) -> None:
        self._serve = serve
        self._mutex = threading.Lock()
        self._pending: list[_Slot[Req, Res]] = []
        self._busy = False
        self.batches = 0          # for benchmarks and tests: how many calls of ``serve``
        self.served = 0
        self._gevent_idle = _patched_idle()

    def submit(self, request: Req) -> Res:
        """Serve ``request`` (possibly together with others) and return its result."""
        slot: _Slot[Req, Res] = _Slot(request)
        with self._mutex:
            self._pending.append(slot)
            if not self._busy:
                self._busy = slot.lead = True
        while not slot.done:
            if slot.lead:
                self._lead(slot)
            else:
                slot.ready.wait()
                slot.ready.clear()
        if slot.error is not None:
            raise slot.error
        return slot.result  # type: ignore[return-value]

    def _lead(self, own: _Slot[Req, Res]) -> None:
        batch: list[_Slot[Req, Res]] = []
        try:
            _let_others_in(self._gevent_idle)
            with self._mutex:
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            try:
                results = list(self._serve([s.request for s in batch]))
                if len(results) != len(batch):
                    raise RuntimeError(f"served {len(results)} results for {len(batch)} requests")
            except BaseException as exc:  # noqa: BLE001 - it belongs to the callers
                results = [exc if i == 0 else copy.copy(exc) for i in range(len(batch))]
            self.batches += 1
            self.served += len(batch)
            for s, r in zip(batch, results):
                if isinstance(r, BaseException):
                    s.error = r
                else:
                    s.result = r
                s.done = True
                s.lead = False
        finally:
            with self._mutex:
                if not own.done and own in self._pending:    # interrupted before serving: give up the turn
                    self._pending.remove(own)
                nxt = self._pending[0] if self._pending else None
                if nxt is None:
                    self._busy = False
                else:
                    nxt.lead = True
            for s in batch:
                if s is not nxt:
                    s.ready.set()
            if nxt is not None:
                nxt.ready.set()
