"""What a hall board gets on (re)connect: every ticket now at a counter, however old the call."""
from __future__ import annotations

from pathlib import Path

from conftest import mini_config
from server import snapshots
from server.core import queue


def test_a_long_held_ticket_stays_in_the_board_snapshot(tmp_path: Path, clock) -> None:
    from server.store import SQLiteStore

    cfg = mini_config(counters=[{"number": n, "services": ["EMP-1", "EMP-2", "PEN-1", "PEN-2"]} for n in (1, 2, 3)])
    store = SQLiteStore(tmp_path / "novbe.db", cfg, clock=clock)
    try:
        for n in (1, 2):
            queue.open_counter(store, n, operator=f"op{n}")
        for _ in range(40):
            queue.issue_ticket(store, "EMP-1")
        held = queue.call_next(store, 1)           # counter 1 serves one citizen for a long time
        clock.advance(60)
        queue.start_service(store, 1)
        for _ in range(35):                        # while counter 2 calls and finishes 35 others
            clock.advance(60)
            queue.call_next(store, 2)
            queue.finish(store, 2)
        last = queue.call_next(store, 2)
        snap = snapshots.display(store)
        assert [(c["number"], c["counter"]) for c in snap["calls"]] == [(last.number, 2), (held.number, 1)]
        assert {c["number"]: c["ticket"] for c in snap["counters"]}[1] == held.number
        assert snap["calls"][1]["status"] == "serving"
        assert "operator" not in str(snap["calls"]) and "op1" not in str(snap)
    finally:
        store.close()


def test_an_area_figure_comes_from_the_tickets_that_have_one(tmp_path: Path, clock) -> None:
    """Employment: EMP-1 at the open counter 1, EMP-2 only at counter 2, due but not open (no figure). The area's
    figure is the EMP-1 citizens' (the last of them), not "waiting for a counter to open" for the whole area; with
    only EMP-2 tickets waiting it is None, as their own tickets say."""
    from server.store import SQLiteStore

    cfg = mini_config(counters=[{"number": 1, "services": ["EMP-1", "PEN-1"]},
                                {"number": 2, "services": ["EMP-2", "PEN-2"]}])
    store = SQLiteStore(tmp_path / "novbe.db", cfg, clock=clock)
    try:
        queue.open_counter(store, 1, operator="op1")
        unknown = queue.issue_ticket(store, "EMP-2")
        assert unknown.eta_minutes is None
        assert snapshots.display(store)["area_last_waiting"]["employment"] is None
        known = [queue.issue_ticket(store, "EMP-1") for _ in range(3)]
        later = queue.issue_ticket(store, "EMP-2")
        assert later.eta_minutes is None and known[-1].eta_minutes is not None and known[-1].eta_minutes > 0
        snap = snapshots.display(store)
        assert snap["area_last_waiting"]["employment"]["number"] == known[-1].ticket.number
        assert snap["area_wait_minutes"]["employment"] == known[-1].eta_minutes
        assert "pension" not in snap["area_last_waiting"]      # nobody waits there
    finally:
        store.close()


def test_the_supervisor_sees_todays_print_jobs_not_earlier_days(tmp_path: Path, clock) -> None:
    """Found by trying it: the supervisor's band said "12 not printed" beside "8 issued today", counting tickets
    of earlier days whose paper can help nobody now. The staff snapshot lists today's jobs; the API keeps all."""
    from server.store import SQLiteStore

    store = SQLiteStore(tmp_path / "novbe.db", mini_config(), clock=clock)
    try:
        old = queue.issue_ticket(store, "EMP-1", kiosk="kiosk-1", printer="dummy://")
        store.claim_print_jobs()
        job = store.print_jobs()[0]["id"]
        store.finish_print_job(job, "failed", "uncertain: server stopped while sending")
        clock.advance(24 * 3600)                 # the next day
        new = queue.issue_ticket(store, "EMP-1", kiosk="kiosk-1", printer="dummy://")
        jobs = snapshots.staff(store)["print_jobs"]
        assert [j["number"] for j in jobs] == [new.ticket.number]
        assert {j["number"] for j in store.print_jobs()} == {old.ticket.number, new.ticket.number}
    finally:
        store.close()
