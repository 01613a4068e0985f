"""Start the services next to the web server: the turn of the business day, the reports' daily
rollups and purge, the print spool and the serial counter devices.

At start-up and after each local midnight, waiting tickets of earlier days are closed as
expired (:func:`server.core.housekeeping.expire_stale`).

LED displays listen to committed events (so a call from the page, the API or a keypad
shows alike); call buttons drive the same domain verbs as the counter page, recorded with
the counter's operator as actor; a rating keypad's keys 1-5 rate the visit the counter
finished last (:func:`server.core.rating.rate_at_counter`, source ``keypad``). Every verb's
event is published by the store after its commit, as for the page.
"""
from __future__ import annotations

import atexit
import logging
from typing import Any, Callable

from flask import Flask

from server.core import clock, housekeeping, queue, rating
from server.core.errors import NoTicketsWaiting, QueueError
from server.core.model import Event, TicketCalled

log = logging.getLogger(__name__)

#: keypad verb -> domain call for one counter
BUTTON_VERBS: dict[str, Callable[..., Any]] = {
    "next": queue.call_next,
    "recall": queue.recall,
    "start": queue.start_service,
    "finish": queue.finish,
    "no_show": queue.mark_no_show,
}


def start(app: Flask, novbe: Any) -> None:
    """Start whatever devices the center configures (each is optional)."""
    from server.realtime import socketio

    store = novbe.store
    turns = DayTurns(store)
    turns.check()
    novbe.extras["day_turns"] = turns
    socketio.start_background_task(turns.run, socketio.sleep)
    # Daily rollups (fast reports) and the retention settings (server.reports), hourly.
    from server.reports import DailyJob

    socketio.start_background_task(DailyJob(store).run, socketio.sleep)

    def public_url() -> str:
        return app.config.get("PUBLIC_URL") or novbe.cfg.center.base_url or "http://127.0.0.1:5000"

    def notify(name: str, data: dict[str, Any]) -> None:
        for ns, room in (("/kiosk", "hall"), ("/counter", "staff")):
            socketio.emit(name, data, namespace=ns, to=room)

    if any(k.printer for k in novbe.cfg.kiosks):
        from server.printing import start_spool

        novbe.extras["spool"] = spool = start_spool(store, public_url, notify)
        atexit.register(spool.stop)

    displays = {c.number: (c.display, _display_options(c)) for c in novbe.cfg.counters if c.display}
    if displays:
        from counter.devices import DeviceManager

        leds = DeviceManager(displays)
        novbe.extras["leds"] = leds
        novbe.publisher.listeners.append(lambda event: led_listener(leds, event))
        atexit.register(leds.close_all)

    buttons = []
    for c in novbe.cfg.counters:
        if c.buttons:
            from counter.devices import CallButtons

            b = CallButtons(c.buttons, on_action=button_handler(store, c.number))
            b.start()
            buttons.append(b)
            atexit.register(b.stop)
    novbe.extras["buttons"] = buttons

    keypads = []
    for c in novbe.cfg.counters:
        if c.rating_keypad:
            from counter.devices import RatingKeypad

            if not novbe.cfg.ratings.enabled:
                log.warning("counter %s has a rating keypad but [ratings] enabled = false: its keys are refused",
                            c.number)
            k = RatingKeypad(c.rating_keypad, on_rating=rating_handler(store, c.number))
            k.start()
            keypads.append(k)
            atexit.register(k.stop)
    novbe.extras["rating_keypads"] = keypads


class DayTurns:
    """Closes the waiting tickets of earlier days once per business day (at start-up, then after
    each local midnight), and retries while the store cannot write."""

    #: at most this long between looks at the clock (a clock set forward or back is noticed)
    MAX_SLEEP = 600.0
    RETRY = 60.0

    def __init__(self, store: Any) -> None:
        self.store = store
        self.done_for: str | None = None   # the business day already tidied
        self.failed = False

    def check(self) -> int:
        """Expire stale tickets if the business day turned since the last check; how many."""
        day = clock.business_day(self.store.clock(), self.store.cfg.tz)
        if day == self.done_for:
            return 0
        try:
            n = housekeeping.expire_stale(self.store)
        except QueueError as exc:   # a storage fault: try again later, the server stays up
            log.warning("day start %s: could not close earlier days' tickets: %s", day, exc.message)
            self.failed = True
            return 0
        self.done_for, self.failed = day, False
        if n:
            log.info("day start %s: %d ticket(s) still waiting from earlier days closed as expired", day, n)
        return n

    def run(self, sleep: Callable[[float], Any]) -> None:
        """The background loop: sleep until just after the next local midnight, then check."""
        while True:
            wait = housekeeping.seconds_to_next_day(self.store.clock(), self.store.cfg.tz) + 1.0
            sleep(min(wait, self.RETRY if self.failed else self.MAX_SLEEP))
            self.check()


def _display_options(counter: Any) -> dict[str, Any]:
    options: dict[str, Any] = {"protocol": counter.display_protocol}
    if counter.display_format:
        options["line_format"] = counter.display_format
    return options


def led_listener(leds: Any, event: Event) -> None:
    """Show every call (and recall, and return) on the counter's LED display."""
    if isinstance(event, TicketCalled) and event.counter is not None:
        leds.show(event.counter, event.number)


def button_handler(store: Any, counter: int) -> Callable[[str], None]:
    """What a keypad key press does at one counter: the same verbs as the page."""
    def on_action(verb: str) -> None:
        action = BUTTON_VERBS.get(verb)
        if action is None:
            log.info("counter %s: keypad verb %r is not wired", counter, verb)
            return
        with store.read() as tx:
            operator = tx.get_counter(counter).operator
        try:
            action(store, counter, actor=f"{operator or 'keypad'}@keypad")
        except NoTicketsWaiting:
            log.info("counter %s: keypad 'next' with nobody waiting", counter)
        except QueueError as exc:
            log.info("counter %s: keypad %s refused: %s", counter, verb, exc.message)
    return on_action


def rating_handler(store: Any, counter: int) -> Callable[[int], None]:
    """What a rating key press does at one counter: rate the visit it finished last, once."""
    def on_rating(score: int) -> None:
        try:
            r = rating.rate_at_counter(store, counter, score, source="keypad")
        except QueueError as exc:
            # nothing_to_rate, already_rated, a storage fault: the citizen's key is simply not
            # counted; the pad keeps working for the next visit.
            log.info("counter %s: rating key %s refused: %s", counter, score, exc.message)
        else:
            log.debug("counter %s: keypad rated ticket %s with %s", counter, r.ticket_id, score)
    return on_rating
