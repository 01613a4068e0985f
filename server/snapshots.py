"""Read models: the full state each kind of client gets on (re)connect, and the service list.

Every snapshot is read inside one read transaction, so its ``seq`` matches its data: a
client applies only events with a higher sequence number, and asks again on a gap.
"""
from __future__ import annotations

from typing import Any

from config.schema import CenterConfig
from server.core import clock, housekeeping
from server.core.model import Status, Ticket
from server.core.queue import Wait, cached_forecast, live_counters, service_outlook, service_waits, wait_of
from server.device_health import printer_rows
from server.store import SQLiteStore


def _names(text: Any) -> dict[str, str]:
    return {"az": text.az, "ru": text.get("ru"), "en": text.get("en")} if text else {}


def center_info(cfg: CenterConfig) -> dict[str, Any]:
    """What every client shows of the center."""
    c = cfg.center
    return {"id": c.id, "name": _names(c.name), "timezone": c.timezone, "languages": list(c.languages),
            "announce_languages": list(c.announce_languages), "news": _names(c.news),
            "footer": _names(c.footer)}


def services(store: SQLiteStore, lang: str | None = None) -> dict[str, Any]:
    """Areas and services with today's remaining capacity and current wait."""
    cfg = store.cfg
    now = store.clock()
    day = clock.business_day(now, cfg.tz)
    open_now = clock.is_open(cfg, now)
    with store.read() as tx:
        issued = store.daily_counts(day, "service")
        ceiling = cfg.center.daily_capacity
        center_left = None if ceiling is None else ceiling - sum(store.daily_counts(day, "center").values())
        waiting = store.waiting_counts(day)
        outlook = service_outlook(store, tx, now, day) if open_now else {}
        out = []
        for s in cfg.services:
            left = max(0, s.quota - issued.get(s.code, 0))
            if center_left is not None:
                left = max(0, min(left, center_left))
            w, refusal = outlook.get(s.code, (None, None))
            # Capacity is counter time: a service whose new ticket issuing would refuse now is
            # shown as unavailable, with the same reason.
            reason = (refusal.scope if refusal is not None else None) if open_now else "closed"
            item = {
                "code": s.code, "letter": s.letter, "area": s.area, "agency": s.agency,
                "name": _names(s.name), "description": _names(s.description),
                "documents": [_names(d) for d in s.documents], "priority_groups": list(s.priority_groups),
                "remaining": left, "waiting": waiting.get(s.code, 0),
                # null: only a counter that has not opened yet serves it (or none today): no figure to show
                "wait_minutes": w.eta_minutes if w else 0,
                "wait_reason": w.reason if w else None,
                "wait_low": w.low if w else None, "wait_high": w.high if w else None,
                "target_wait": s.target_wait, "available": reason is None, "unavailable": reason,
            }
            if lang:
                item["title"] = s.name.get(lang)
            out.append(item)
    opening = clock.next_opening(cfg, now)
    return {
        "ok": True, "center": center_info(cfg), "open": open_now, "day": day,
        "next_opening": opening.isoformat() if opening else None,
        "areas": [{"code": a.code, "name": _names(a.name), "agency": a.agency, "hall": a.hall,
                   "priority_group": a.priority_group} for a in cfg.areas],
        "priority_groups": [{"code": g.code, "name": _names(g.name), "rank": g.rank} for g in cfg.priority_groups],
        "services": out,
    }


def _call(cfg: CenterConfig, t: Ticket) -> dict[str, Any]:
    svc = cfg.services_by_code.get(t.service)
    return {"number": t.number, "counter": t.counter, "service": t.service,
            "area": svc.area if svc else None, "at": t.called_at, "status": t.status.value}


def display(store: SQLiteStore) -> dict[str, Any]:
    """A hall board's state: recent calls, waiting per area, counters. Nothing personal."""
    cfg = store.cfg
    now = store.clock()
    day = clock.business_day(now, cfg.tz)
    with store.read() as tx:
        seq = store.last_seq()
        calls = store.recent_calls(day, 30)
        waiting = store.waiting_counts(day)
        counters = live_counters(cfg, tx, day)
        holding = {c.ticket_id for c in counters if c.ticket_id}
        current = {t.id: t for t in calls if t.id in holding}
        # A ticket held for long can be older than the 30 latest calls: a board still shows it.
        for ticket_id in holding - current.keys():
            held = tx.get_ticket(ticket_id)
            if held is not None:
                current[ticket_id] = held
        # The hall forecast's answer for the board: each area's last waiting citizen (the one
        # called last) with the wait their own ticket and status page show, central figure and
        # range. A ticket without a figure (only a counter not yet open, or none today, would call
        # it: its own ticket says so) does not hide the figures of the area's other services;
        # None only where no waiting ticket of the area has one.
        fc = cached_forecast(store, tx, now, day)
        last: dict[str, tuple[Ticket, Wait] | None] = {}
        for t in tx.waiting_all(day):
            svc = cfg.services_by_code.get(t.service)
            if svc is None:
                continue
            w = wait_of(fc, t.id)
            prev = last.setdefault(svc.area, None)
            if w.at is not None and (prev is None or w.at >= (prev[1].at or 0.0)):
                last[svc.area] = (t, w)
        area_wait = {a: None if v is None else v[1].eta_minutes for a, v in last.items()}
        area_last = {a: None if v is None else {"number": v[0].number, "eta_minutes": v[1].eta_minutes,
                                                "eta_low": v[1].low, "eta_high": v[1].high}
                     for a, v in last.items()}
    per_area: dict[str, int] = {a.code: 0 for a in cfg.areas}
    for code, n in waiting.items():
        svc = cfg.services_by_code.get(code)
        if svc:
            per_area[svc.area] += n
    return {
        "seq": seq, "center": center_info(cfg), "day": day, "now": now,
        "calls": [_call(cfg, t) for t in sorted(current.values(), key=lambda t: t.called_at or 0, reverse=True)
                  if t.status in (Status.CALLED, Status.SERVING)],
        "history": [_call(cfg, t) for t in calls],
        "waiting": per_area, "waiting_services": waiting, "area_wait_minutes": area_wait,
        "area_last_waiting": area_last,
        "counters": [{"number": c.number, "state": c.state.value,
                      "ticket": current[c.ticket_id].number if c.ticket_id in current else None}
                     for c in counters],
        "services": {s.code: {"area": s.area, "letter": s.letter, "name": _names(s.name)} for s in cfg.services},
        "areas": {a.code: _names(a.name) for a in cfg.areas},
        "boards": {b.name: {"counters": list(b.counters), "areas": list(b.areas), "recent": b.recent,
                            "single_counter": b.single_counter} for b in cfg.boards},
        "flash_seconds": cfg.policy.board_flash_seconds,
    }


def staff(store: SQLiteStore) -> dict[str, Any]:
    """Counters' and supervisors' state: every counter, the waiting list, today's figures."""
    cfg = store.cfg
    now = store.clock()
    day = clock.business_day(now, cfg.tz)
    with store.read() as tx:
        seq = store.last_seq()
        tickets = store.tickets_of_day(day)
        counters = live_counters(cfg, tx, day)
        # Tickets held or parked across midnight stay visible (and finishable) at their counter.
        held_over = housekeeping.held_over(tx, day)
        by_id = {t.id: t for t in (*tickets, *held_over)}
        for c in counters:
            if c.ticket_id and c.ticket_id not in by_id:
                older = tx.get_ticket(c.ticket_id)
                if older is not None:
                    by_id[older.id] = older
        jobs = store.print_jobs(20, day)    # today's: an earlier day's unprinted ticket helps nobody now
        printers = printer_rows(cfg, store.printers())
        fc = cached_forecast(store, tx, now, day)
        waits = service_waits(store, tx, now, day) if clock.is_open(cfg, now) else {}
    stats: dict[int, dict[str, Any]] = {c.number: {"served": 0, "no_show": 0, "service_seconds": 0.0}
                                        for c in counters}
    for t in tickets:
        if t.counter in stats:
            s = stats[t.counter]
            if t.status == Status.DONE:
                s["served"] += 1
                if t.started_at and t.finished_at:
                    s["service_seconds"] += t.finished_at - t.started_at
            elif t.status == Status.NO_SHOW:
                s["no_show"] += 1
    waiting = [t for t in tickets if t.status == Status.WAITING]
    out_counters = []
    for c in counters:
        conf = cfg.counters_by_number[c.number]
        s = stats[c.number]
        held = by_id.get(c.ticket_id) if c.ticket_id else None
        out_counters.append({
            "number": c.number, "name": _names(conf.name), "state": c.state.value, "reason": c.reason,
            "operator": c.operator, "since": c.since, "services": list(c.services),
            "daily_limit": conf.daily_limit, "handled_today": c.handled_today,
            "ticket": _staff_ticket(cfg, held, now) if held else None,
            "served": s["served"], "no_show": s["no_show"],
            "avg_service_minutes": round(s["service_seconds"] / s["served"] / 60, 1) if s["served"] else None,
            "waiting": sum(1 for t in waiting if t.service in c.services or t.target_counter == c.number),
        })
    per_service = []
    for svc in cfg.services:
        mine = [t for t in waiting if t.service == svc.code]
        if mine:
            longest = max(now - t.issued_at for t in mine) / 60
            per_service.append({"service": svc.code, "name": _names(svc.name), "waiting": len(mine),
                                "longest_wait_minutes": round(longest, 1), "target_wait": svc.target_wait,
                                "over_target": longest > svc.target_wait,
                                "new_ticket_wait": waits[svc.code].eta_minutes if svc.code in waits else None})
    done = [t for t in tickets if t.status == Status.DONE]
    return {
        "seq": seq, "center": center_info(cfg), "day": day, "now": now,
        "counters": out_counters,
        "waiting": [{**_staff_ticket(cfg, t, now), "eta_minutes": wait_of(fc, t.id).eta_minutes,
                     "forecast_counter": fc.calls[t.id].counter if t.id in fc.calls else None}
                    for t in waiting],
        "parked": [_staff_ticket(cfg, t, now) for t in (*held_over, *tickets) if t.status == Status.PARKED],
        "services": per_service,
        "totals": {"issued": len(tickets), "waiting": len(waiting), "served": len(done),
                   "no_show": sum(1 for t in tickets if t.status == Status.NO_SHOW),
                   "cancelled": sum(1 for t in tickets if t.status == Status.CANCELLED)},
        "outcomes": list(cfg.policy.outcomes), "recall_limit": cfg.policy.recall_limit,
        "allow_call_specific": cfg.policy.allow_call_specific,
        "print_jobs": jobs, "printers": printers,
    }


def _staff_ticket(cfg: CenterConfig, t: Ticket, now: float) -> dict[str, Any]:
    svc = cfg.services_by_code.get(t.service)
    return {
        "id": t.id, "number": t.number, "day": t.day, "service": t.service, "original_service": t.original_service,
        "service_name": _names(svc.name) if svc else {}, "status": t.status.value, "priority": t.priority,
        "priority_verified_by": t.priority_verified_by, "issued_at": t.issued_at,
        "waited_minutes": round(((t.called_at or now) - t.issued_at) / 60, 1), "counter": t.counter,
        "target_counter": t.target_counter, "called_at": t.called_at, "started_at": t.started_at,
        "recalls": t.recalls, "note": t.note, "lang": t.lang,
        "over_target": bool(svc and t.status == Status.WAITING and (now - t.issued_at) / 60 > svc.target_wait),
    }
