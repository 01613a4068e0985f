"""The spool's time rules against a real TCP listener: old jobs held for staff, a backlog paced,
idle printers polled (printers/spool.py)."""

from __future__ import annotations

import functools
import time

from printers import Spool, probe, render_bytes
from printers.layout import TicketView
from test_printers_network import (
    COVER_OPEN,
    NO_CAUSE,
    OFFLINE,
    ONLINE,
    PAPER_OK,
    PAPER_OUT,
    PAPER_STOP,
    QUERY_CAUSE,
    QUERY_ONLINE,
    QUERY_PAPER,
    QUICK,
    FakePrinter,
    MemoryJobs,
    make_printer,  # noqa: F401  (fixture)
    quick_send,
)

quick_probe = functools.partial(probe, timeout=QUICK)


def small(number: str) -> bytes:
    """An all-ASCII ticket (no raster lines): about 1 kB."""
    return render_bytes(TicketView("DOST 1", "Pensions", number, "24.11.2026 09:15", 2, 5, None,
                                   f"https://novbe.example.az/t/{number}", "Thank you", "en"))


class Clock:
    """Wall-clock time that a test moves on."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_job_older_than_max_age_is_held_not_printed_then_reprinted_once(
    make_printer: functools.partial[FakePrinter],
) -> None:
    printer = make_printer(online=OFFLINE, cause=COVER_OPEN)
    clock = Clock()
    jobs = MemoryJobs()
    job_id = jobs.add(printer.url, small("A-001"), created_at=clock.now)
    spool = Spool(jobs, send=quick_send, backoff=(30,), max_age=300, clock=clock)

    clock.now += 299.5
    assert spool.run_once() == 0
    # Retries stop at the age limit: the next try is due when the job turns 300 s old, not 30 s later.
    assert jobs.state(job_id) == "pending" and jobs.jobs[job_id].due - time.monotonic() <= 0.5

    printer.online, printer.cause = ONLINE, NO_CAUSE  # the cover is closed at last ...
    clock.now += 1
    time.sleep(0.5)
    assert spool.run_once() == 0  # ... but the ticket is 300.5 s old: held for staff
    assert jobs.state(job_id) == "held" and "5 min" in jobs.jobs[job_id].error
    assert small("A-001") not in bytes(printer.received)

    jobs.requeue(job_id, queued_at=clock.now)  # a supervisor reprints it
    assert spool.run_once() == 1
    assert jobs.state(job_id) == "printed"
    assert bytes(printer.received).count(small("A-001")) == 1


def test_after_an_outage_the_backlog_prints_one_ticket_at_a_time(
    make_printer: functools.partial[FakePrinter],
) -> None:
    printer = make_printer(online=OFFLINE, cause=PAPER_STOP, paper=PAPER_OUT)
    jobs = MemoryJobs()
    tickets = [small(f"A-00{n}") for n in range(1, 5)]
    ids = [jobs.add(printer.url, data) for data in tickets]
    gap = 0.3
    spool = Spool(jobs, send=quick_send, backoff=(0.02,), gap=gap, idle_wait=0.02)
    spool.run_once()
    assert all(jobs.state(i) == "pending" for i in ids)

    spool.start()
    try:
        printer.online, printer.cause, printer.paper = ONLINE, NO_CAUSE, PAPER_OK  # a new roll
        arrived: list[float] = []
        deadline = time.monotonic() + 5
        while len(arrived) < len(tickets) and time.monotonic() < deadline:
            data = bytes(printer.received)
            while len(arrived) < len(tickets) and tickets[len(arrived)] in data:
                arrived.append(time.monotonic())
            time.sleep(0.005)
        time.sleep(gap)  # room for a duplicate to show up
    finally:
        spool.stop()
    data = bytes(printer.received)
    assert [data.count(t) for t in tickets] == [1, 1, 1, 1]
    assert [data.index(t) for t in tickets] == sorted(data.index(t) for t in tickets)  # in order
    spacing = [b - a for a, b in zip(arrived, arrived[1:])]
    assert len(spacing) == 3 and min(spacing) >= gap * 0.8, spacing
    assert all(jobs.state(i) == "printed" for i in ids)


def test_a_fresh_ticket_is_not_paced(make_printer: functools.partial[FakePrinter]) -> None:
    printer = make_printer()
    jobs = MemoryJobs()
    first, second = jobs.add(printer.url, small("A-001")), jobs.add(printer.url, small("A-002"))
    assert Spool(jobs, send=quick_send, gap=10).run_once() == 2  # nobody waited: no pacing
    assert jobs.state(first) == jobs.state(second) == "printed"


def test_idle_printers_are_polled_cheaply_and_faults_seen_without_a_job(
    make_printer: functools.partial[FakePrinter],
) -> None:
    printer = make_printer()
    jobs = MemoryJobs()
    every = 0.1
    spool = Spool(jobs, send=quick_send, printers=[printer.url], poll_every=every, probe=quick_probe)
    started = time.perf_counter()
    assert spool.poll_once() == 1
    cost = time.perf_counter() - started
    assert jobs.statuses == [(printer.url, "ok", "")]
    assert bytes(printer.received) == QUERY_ONLINE + QUERY_PAPER  # six bytes, no paper moved
    assert spool.poll_once() == 0  # asked just now: not again before poll_every
    print(f"\nidle poll of a healthy printer over TCP: {cost * 1000:.1f} ms, 6 bytes")

    spool.start()
    try:
        printer.online, printer.cause, printer.paper = OFFLINE, PAPER_STOP, PAPER_OUT
        deadline = time.monotonic() + 3
        while jobs.statuses[-1][1] != "paper_out" and time.monotonic() < deadline:
            time.sleep(0.01)
        seen = jobs.statuses[-1]
        printer.online, printer.cause, printer.paper = ONLINE, NO_CAUSE, PAPER_OK
        while jobs.statuses[-1][1] != "ok" and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        spool.stop()
    assert seen == (printer.url, "paper_out", "the printer is out of paper")
    assert jobs.statuses[-1][:2] == (printer.url, "ok")
    # State changes only: ok, paper_out, ok, however many polls ran.
    assert [s[1] for s in jobs.statuses] == ["ok", "paper_out", "ok"]
    assert QUERY_CAUSE in bytes(printer.received)
    assert b"\x1b@" not in bytes(printer.received)  # polls never print


def test_a_poll_of_a_printer_that_is_off_says_offline() -> None:
    from test_printers_network import free_port

    url = f"tcp://127.0.0.1:{free_port()}"
    jobs = MemoryJobs()
    spool = Spool(jobs, printers=[url, "dummy://"], poll_every=1, probe=quick_probe)
    assert spool.poll_once() == 2
    assert jobs.statuses == [(url, "offline", jobs.statuses[0][2])]  # dummy:// cannot say: not reported
    assert "cannot connect" in jobs.statuses[0][2]


def test_two_kiosks_at_one_address_keep_their_own_printer(tmp_path, clock) -> None:
    """Two kiosks configured with the same address (the shipped centers' dummy://) are two printers: each ticket
    in its own kiosk's layout, each state kept, told and listed under its own kiosk, not the last one's."""
    from conftest import mini_config
    from printers import PaperOut, PrinterStatus
    from server import auth
    from server.app import create_app
    from server.device_health import DeviceHealth, printer_rows
    from server.printing import StoreJobs

    kiosks = [{"name": "kiosk-1", "printer": "dummy://"},
              {"name": "kiosk-2", "printer": "dummy://", "profile": "POS-5890", "paper": "58mm"}]
    app = create_app({"CENTER_CONFIG": mini_config(kiosks=kiosks), "DATABASE": str(tmp_path / "novbe.db"),
                      "CLOCK": clock, "START_DEVICES": False, "TESTING": True, "RATELIMIT_ENABLED": False})
    try:
        store = app.extensions["novbe"].store
        for name in ("kiosk-1", "kiosk-2"):
            token = auth.add_device(store, "kiosk", name)
            r = app.test_client().post("/api/tickets", json={"service": "EMP-1"},
                                       headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 201, r.get_json()
        told: list[tuple[str, dict]] = []
        jobs = StoreJobs(store, lambda: "http://x", lambda event, data: told.append((event, data)))
        claimed = jobs.claim_print_jobs()
        assert [(j.name, j.printer) for j in claimed] == [("kiosk-1", "dummy://"), ("kiosk-2", "dummy://")]
        for job, (profile, paper) in zip(claimed, [("TM-T88V", "80mm"), ("POS-5890", "58mm")]):
            view = jobs.view(job.id)
            assert view is not None and job.data == render_bytes(view, profile=profile, paper=paper)

        # kiosk-1's printer is out of paper, kiosk-2's prints.
        sent: list[str] = []

        def send(url: str, data: bytes, *, profile: str) -> PrinterStatus | None:
            sent.append(profile)
            if len(sent) == 1:
                raise PaperOut("the printer is out of paper")
            return PrinterStatus("ok")

        class Again:
            """The jobs already claimed, through the real StoreJobs for everything else."""

            def __getattr__(self, name: str):
                return getattr(jobs, name)

            def claim_print_jobs(self, limit: int = 10):
                return claimed

        Spool(Again(), send=send, profile_for=lambda key: jobs.layout(key)[0]).run_once()
        assert sent == ["TM-T88V", "POS-5890"]
        states = [(d["kiosk"], d["printer"], d["state"]) for e, d in told if e == "printer-status"]
        assert states == [("kiosk-1", "dummy://", "paper_out"), ("kiosk-2", "dummy://", "ok")]
        rows = printer_rows(store.cfg, store.printers())
        assert [(p["name"], p["url"], p["state"]) for p in rows] == [("kiosk-1", "dummy://", "paper_out"),
                                                                     ("kiosk-2", "dummy://", "ok")]
        health = DeviceHealth(store)
        listed = {r["name"]: r for r in health.rows(store.cfg, clock(), rows)}
        assert "printer" in listed["kiosk-1"]["problems"] and listed["kiosk-1"]["printer"]["state"] == "paper_out"
        assert "printer" not in listed["kiosk-2"]["problems"] and listed["kiosk-2"]["printer"]["state"] == "ok"
    finally:
        app.extensions["novbe"].publisher.stop()
        app.extensions["novbe"].store.close()


def test_a_stop_mid_batch_leaves_only_the_job_being_sent_uncertain(tmp_path, clock) -> None:
    """Found by trying it: with the printer not answering, a restart turned every ticket the spool had claimed
    (up to ten) into "uncertain: server stopped while sending", none of them printed, all for staff to find.
    Only the job whose bytes were going out may be uncertain; the others are still pending, and after the
    restart they print (once each)."""
    from conftest import mini_config
    from server import auth
    from server.app import create_app
    from server.printing import StoreJobs
    from server.store import SQLiteStore

    cfg = mini_config(kiosks=[{"name": "kiosk-1", "printer": "dummy://"}])
    db = tmp_path / "novbe.db"
    app = create_app({"CENTER_CONFIG": cfg, "DATABASE": str(db), "CLOCK": clock, "START_DEVICES": False,
                      "TESTING": True, "RATELIMIT_ENABLED": False})
    store = app.extensions["novbe"].store
    token = auth.add_device(store, "kiosk", "kiosk-1")
    numbers = [app.test_client().post("/api/tickets", json={"service": "EMP-1"},
                                      headers={"Authorization": f"Bearer {token}"}).get_json()["number"]
               for _ in range(3)]

    class Stopped(BaseException):
        """The server stops while the first ticket's bytes are on their way."""

    def send(url: str, data: bytes, *, profile: str):
        raise Stopped

    try:
        Spool(StoreJobs(store, lambda: "http://x"), send=send).run_once()
    except Stopped:
        pass
    store.close()

    again = SQLiteStore(db, cfg, clock=clock)     # the restart
    try:
        again.recover_print_jobs()
        rows = {r["number"]: r for r in again.print_jobs()}
        assert rows[numbers[0]]["status"] == "failed" and "uncertain" in rows[numbers[0]]["error"]
        assert [rows[n]["status"] for n in numbers[1:]] == ["pending", "pending"]
        printed: list[bytes] = []
        Spool(StoreJobs(again, lambda: "http://x"), send=lambda url, data, *, profile: printed.append(data)).run_once()
        assert len(printed) == 2
        assert {r["number"]: r["status"] for r in again.print_jobs()} == {
            numbers[0]: "failed", numbers[1]: "printed", numbers[2]: "printed"}
    finally:
        again.close()


def test_the_server_log_says_when_a_printer_fails_and_when_it_is_back(
    make_printer: functools.partial[FakePrinter], caplog
) -> None:
    """Found by trying it: the log (journalctl -u novbe) said nothing while a printer did not answer for ten
    minutes. One line per change of state: a warning for the fault, one for its end; none while it stays so."""
    import logging

    printer = make_printer(online=OFFLINE, cause=COVER_OPEN)
    jobs = MemoryJobs()
    spool = Spool(jobs, printers={"kiosk-1": printer.url}, poll_every=0, probe=quick_probe)
    with caplog.at_level(logging.INFO, logger="printers.spool"):
        spool.poll_once()
        spool.poll_once()
        printer.online, printer.cause = ONLINE, NO_CAUSE
        spool.poll_once()
        spool.poll_once()
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "printers.spool"]
    assert [level for level, _ in lines] == ["WARNING", "INFO"], lines
    assert lines[0][1].startswith("printer kiosk-1: cover_open") and lines[1][1] == "printer kiosk-1: ok again"
