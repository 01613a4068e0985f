"""Reports: the figures of any period, grouped by service, area, counter, operator, priority group,
hour of day or day, computed once and shown many ways (the API's JSON, CSV, XLSX, ``novbe report``,
the /counter/reports page).

How each figure is counted (docs/api.md says the same):

- A ticket belongs to its business day (Asia/Baku by default) and to the hour it was issued, even when
  it is served after midnight.
- ``issued`` counts a ticket under the service (and area) it was issued for; every other figure counts
  it under the service that finished it, at its last counter, for the staff account that finished it
  or marked it a no-show (the operator).
- ``transferred`` counts transfers where they happened: under the service, counter and operator that
  sent the citizen on.
- A ticket's wait runs from its issue to its first call at the counter that finished it: after a
  transfer, still from the original issue time (the citizen's whole wait). Tickets that were never
  called have no wait. No-shows have one (the hall made them wait that long).
- ``within_target``: the share of waits no longer than the finishing service's ``target_wait``.
- ``service_*``: from the start of service (or the call, if never started) to the finish, served
  tickets only.
- Percentiles are nearest-rank (p90 of 10 waits is the 9th shortest); times are whole seconds.
- ``satisfied_share``: the share of ratings of 4 or 5 (DOST's "satisfied citizens");
  ``response_rate``: ratings per served ticket.
- ``refused``: tickets a kiosk could not issue (capacity or closed), by the service, priority group
  and hour asked for; they have no counter or operator.

Speed: a closed day is rolled up once (one row per grouping and key, with its waits) when it is settled
— over, and none of its tickets still waiting, at a counter or parked (or older than a week) — by the
daily job or ``novbe rollup``. A report reads those rows and computes only the days not rolled up
(today, or days not yet settled) from tickets and events. A late rating drops its day's rollup, which
is then made again.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from config.schema import CenterConfig
from server.core import clock
from server.core.errors import InvalidRequest, QueueError
from server.core.model import Status, Ticket
from server.core.rating import operator_of, satisfied

log = logging.getLogger(__name__)

GROUPINGS = ("service", "area", "counter", "operator", "priority", "hour", "day")
#: rollup kinds: one per grouping, and "center" (the day's total, which is also the by-day row)
KINDS = ("service", "area", "counter", "operator", "priority", "hour", "center")
FIGURES = ("issued", "served", "no_show", "cancelled", "transferred", "refused", "wait_mean", "wait_p50",
           "wait_p90", "wait_max", "service_p50", "service_p90", "within_target", "ratings", "satisfied_share",
           "response_rate")
#: a day older than this is rolled up even with a ticket still open (the held-over window is 7 days)
SETTLE_DAYS = 8
#: the longest period one report may cover
MAX_DAYS = 3 * 366
_COUNTS = ("issued", "served", "no_show", "cancelled", "expired", "transferred", "refused", "within", "ratings",
           "satisfied")


@dataclass
class Agg:
    """The figures of one group over one or more days, before they are turned into shares and percentiles."""

    n: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_COUNTS, 0))
    waits: list[int] = field(default_factory=list)
    services: list[int] = field(default_factory=list)
    refused_by: dict[str, int] = field(default_factory=dict)

    def merge(self, other: "Agg") -> None:
        """Add another group's (or day's) figures to these."""
        self.add(other.n, other.waits, other.services, other.refused_by)

    def add(self, n: dict[str, int], waits: list[int], services: list[int], refused_by: dict[str, int]) -> None:
        """Add figures in their stored form (see :meth:`dumps`)."""
        mine = self.n
        for k, v in n.items():
            mine[k] = mine.get(k, 0) + v
        self.waits += waits
        self.services += services
        for k, v in refused_by.items():
            self.refused_by[k] = self.refused_by.get(k, 0) + v

    def dumps(self) -> str:
        """The stored form of a rollup row (compact JSON)."""
        return json.dumps({"n": {k: v for k, v in self.n.items() if v}, "w": self.waits, "s": self.services,
                           "r": self.refused_by}, separators=(",", ":"))

    @classmethod
    def loads(cls, text: str) -> "Agg":
        """A rollup row read back."""
        agg = cls()
        d = json.loads(text)
        agg.add(d["n"], d["w"], d["s"], d["r"])
        return agg

    def figures(self) -> dict[str, Any]:
        """The published figures (see the module docstring)."""
        n = self.n
        waits, services = sorted(self.waits), sorted(self.services)
        served, ratings = n["served"], n["ratings"]
        return {
            "issued": n["issued"], "served": served, "no_show": n["no_show"], "cancelled": n["cancelled"],
            "transferred": n["transferred"], "refused": n["refused"],
            "wait_mean": round(sum(waits) / len(waits)) if waits else None,
            "wait_p50": percentile(waits, 0.5), "wait_p90": percentile(waits, 0.9),
            "wait_max": waits[-1] if waits else None,
            "service_p50": percentile(services, 0.5), "service_p90": percentile(services, 0.9),
            "within_target": round(n["within"] / len(waits), 4) if waits else None,
            "ratings": ratings,
            "satisfied_share": round(n["satisfied"] / ratings, 4) if ratings else None,
            "response_rate": round(ratings / served, 4) if served else None,
        }


def percentile(ordered: list[int], p: float) -> int | None:
    """Nearest-rank percentile of an ascending list (None for an empty one)."""
    if not ordered:
        return None
    return ordered[max(1, math.ceil(p * len(ordered))) - 1]


# --- one day, from its tickets and events ----------------------------------------------------

def _enc(value: Any) -> str:
    """A group key as stored: '' for none, hours as two digits (so they sort)."""
    if value is None:
        return ""
    return f"{value:02d}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def day_groups(cfg: CenterConfig, tickets: Iterable[Ticket], events: Iterable[tuple[Any, ...]],
               ratings: dict[int, int], refusals: Iterable[dict[str, Any]]) -> dict[tuple[str, str], Agg]:
    """One day's figures per (kind, key), from :meth:`server.store.SQLiteStore.report_day`'s material."""
    out: dict[tuple[str, str], Agg] = defaultdict(Agg)
    area_of = {s.code: s.area for s in cfg.services}
    targets = cfg.target_wait_s
    by_ticket: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for ev in events:
        by_ticket[ev[0]].append(ev)

    def keys(service: str | None, counter: int | None, operator: str | None, priority: str | None,
             hour: int) -> list[tuple[str, str]]:
        return [("service", _enc(service)), ("area", _enc(area_of.get(service or ""))),
                ("counter", _enc(counter)), ("operator", _enc(operator)), ("priority", _enc(priority)),
                ("hour", _enc(hour)), ("center", "")]

    for t in tickets:
        hour = clock.local(t.issued_at, cfg.tz).hour
        first_call: float | None = None
        finisher: str | None = None
        seen_call = False
        for _tid, name, at, actor, counter, payload in by_ticket.get(t.id, ()):
            if name == "ticket-called":
                seen_call = True
                if first_call is None:
                    first_call = at
            elif name == "ticket-transferred":
                first_call = None   # the wait that counts ends at the next call, from the original issue
                sent = json.loads(payload).get("from_service") if payload else None
                for kind_key in keys(sent or t.original_service, counter, operator_of(actor), t.priority, hour):
                    out[kind_key].n["transferred"] += 1
            else:   # finished or no-show: whoever did it is the operator
                finisher = operator_of(actor)
        if not seen_call and t.called_at is not None:
            first_call = t.called_at   # a ticket from before the event log kept calls
        final = keys(t.service, t.counter, finisher, t.priority, hour)
        for i, kind_key in enumerate(keys(t.original_service, t.counter, finisher, t.priority, hour)):
            # issued: under the service and area asked for; the rest under the finishing ones
            out[kind_key].n["issued"] += 1
            agg = out[final[i]]
            if t.status == Status.DONE:
                agg.n["served"] += 1
                began = t.started_at or t.called_at
                if began is not None and t.finished_at is not None:
                    agg.services.append(round(t.finished_at - began))
            elif t.status == Status.NO_SHOW:
                agg.n["no_show"] += 1
            elif t.status == Status.CANCELLED:
                agg.n["cancelled"] += 1
            elif t.status == Status.EXPIRED:
                agg.n["expired"] += 1
            if first_call is not None:
                wait = max(0, round(first_call - t.issued_at))
                agg.waits.append(wait)
                if wait <= targets.get(t.service, math.inf):
                    agg.n["within"] += 1
            score = ratings.get(t.id)
            if score is not None:
                agg.n["ratings"] += 1
                agg.n["satisfied"] += int(satisfied(score))
    for r in refusals:
        hour = clock.local(r["at"], cfg.tz).hour
        for kind_key in keys(r["service"], None, None, r["priority"], hour):
            agg = out[kind_key]
            agg.n["refused"] += 1
            agg.refused_by[r["reason"]] = agg.refused_by.get(r["reason"], 0) + 1
    out.setdefault(("center", ""), Agg())
    return dict(out)


# --- periods --------------------------------------------------------------------------------

def parse_period(first: str | None, last: str | None, today: str) -> tuple[str, str]:
    """The period asked for (ISO dates, both included): defaults to today; InvalidRequest if malformed."""
    def day(value: str | None, name: str, default: str) -> date:
        if value is None or value == "":
            return date.fromisoformat(default)
        try:
            if len(value) != 10:
                raise ValueError
            return date.fromisoformat(value)
        except ValueError:
            raise InvalidRequest(f"{name} must be a date, YYYY-MM-DD", field=name) from None

    a, b = day(first, "from", today), day(last, "to", first or today)
    if b < a:
        raise InvalidRequest("'to' is before 'from'", field="to")
    if (b - a).days >= MAX_DAYS:
        raise InvalidRequest(f"a report covers at most {MAX_DAYS} days", field="to")
    return a.isoformat(), b.isoformat()


def today_of(store: Any) -> str:
    """The store's business day now."""
    return clock.business_day(store.clock(), store.cfg.tz)


def _groups(store: Any, first: str, last: str, kind: str, group: Callable[[str, str], Any]) -> dict[Any, Agg]:
    """One kind's figures over a period, merged per ``group(day, key)``: rolled-up days from their
    rollup, the others computed now (and not stored: reading a report never writes)."""
    out: dict[Any, Agg] = defaultdict(Agg)
    rows = store.rollup_rows(first, last, (kind,))
    if rows:
        # One parse for all rows: a year is ~20,000 of them, and a call per row costs more than the text.
        parsed = json.loads("[" + ",".join(r[3] for r in rows) + "]")
        for (day, _k, key, _data), d in zip(rows, parsed):
            out[group(day, key)].add(d["n"], d["w"], d["s"], d["r"])
    rolled = store.rolled_days(first, last)
    for day in store.report_data_days(first, last):
        if day in rolled:
            continue
        for (k, key), agg in day_groups(store.cfg, *store.report_day(day)).items():
            if k == kind:
                out[group(day, key)].merge(agg)
    return out


def _decode(kind: str, key: str) -> Any:
    if key == "":
        return None
    if kind in ("counter", "hour"):
        return int(key)
    return key


def names(cfg: CenterConfig, by: str, key: Any) -> dict[str, str] | None:
    """A group's name in az, ru and en (services, areas, counters, priority groups), or None."""
    text = None
    if by == "service" and key in cfg.services_by_code:
        text = cfg.services_by_code[key].name
    elif by == "area" and key in cfg.areas_by_code:
        text = cfg.areas_by_code[key].name
    elif by == "priority" and key in cfg.groups_by_code:
        text = cfg.groups_by_code[key].name
    elif by == "counter" and key in cfg.counters_by_number:
        text = cfg.counters_by_number[key].name
    if text is None:
        return None
    return {"az": text.az, "ru": text.get("ru"), "en": text.get("en")}


def report(store: Any, first: str, last: str, by: str) -> dict[str, Any]:
    """The report of a period grouped ``by`` one of :data:`GROUPINGS` (the API's JSON body)."""
    if by not in GROUPINGS:
        raise InvalidRequest(f"by must be one of {', '.join(GROUPINGS)}", field="by")
    kind = "center" if by == "day" else by
    total = Agg()
    # Every ticket, transfer and refusal of a day is in exactly one group of each kind, so the
    # groups add up to the day's total: only one kind of row need be read.
    groups = _groups(store, first, last, kind, (lambda day, key: day) if by == "day"
                     else (lambda day, key: _decode(kind, key)))
    for agg in groups.values():
        total.merge(agg)
    refused_by = dict(total.refused_by)
    cfg = store.cfg
    rows = []
    for key in sorted(groups, key=lambda x: (x is None, x)):
        rows.append({"key": key, "name": names(cfg, by, key), **groups[key].figures()})
    return {"ok": True, "from": first, "to": last, "by": by, "rows": rows,
            "total": {"key": None, "name": None, **total.figures()}, "refused_by": refused_by,
            "target_share": cfg.reports.target_share}


def arrivals(store: Any, first: str, last: str) -> dict[str, Any]:
    """Tickets issued per weekday (Monday first) and hour of day over a period: the heat map."""
    grid = [[0] * 24 for _ in range(7)]
    days: set[str] = set()
    for (day, key), agg in _groups(store, first, last, "hour", lambda day, key: (day, key)).items():
        if key:
            grid[date.fromisoformat(day).weekday()][int(key)] += agg.n["issued"]
            days.add(day)
    return {"ok": True, "from": first, "to": last, "days": len(days), "grid": grid}


# --- rollups and retention -------------------------------------------------------------------

def rollup_day(store: Any, day: str) -> int:
    """Compute one day's rollup from its tickets and events and store it; how many rows."""
    groups = day_groups(store.cfg, *store.report_day(day))
    store.put_rollup(day, [(kind, key, agg.dumps()) for (kind, key), agg in groups.items()])
    return len(groups)


def settled_days(store: Any, first: str = "0000-01-01", last: str | None = None, *,
                 missing_only: bool = True) -> list[str]:
    """Days with data that can be rolled up: over, and none of their tickets still open (or old enough)."""
    today = today_of(store)
    cutoff = (date.fromisoformat(today) - timedelta(days=SETTLE_DAYS)).isoformat()
    end = min(last or today, (date.fromisoformat(today) - timedelta(days=1)).isoformat())
    if end < first:
        return []
    open_days = store.open_days(today)
    rolled = store.rolled_days(first, end) if missing_only else set()
    return [d for d in store.report_data_days(first, end)
            if d not in rolled and (d not in open_days or d < cutoff)]


def rollup(store: Any, first: str = "0000-01-01", last: str | None = None, *, again: bool = False,
           progress: Callable[[str, int], None] | None = None) -> list[str]:
    """Roll up every settled day of a period not yet rolled up (``again``: every settled day); the days done."""
    days = settled_days(store, first, last, missing_only=not again)
    for day in days:
        n = rollup_day(store, day)
        if progress:
            progress(day, n)
    return days


def purge(store: Any) -> dict[str, int]:
    """Apply the center's retention settings now: old rating comments and status-page tokens go."""
    keep = store.cfg.retention
    now = store.clock()
    today = date.fromisoformat(today_of(store))
    return store.purge(
        comments_before=now - keep.rating_comments_days * 86400 if keep.rating_comments_days else None,
        tokens_before_day=(today - timedelta(days=keep.status_tokens_days)).isoformat()
        if keep.status_tokens_days else None)


class DailyJob:
    """Rolls up settled days and applies retention: at start-up, then every hour (a day settles when its
    last held ticket ends, which need not be at midnight). A storage fault is logged and tried again."""

    EVERY = 3600.0

    def __init__(self, store: Any) -> None:
        self.store = store

    def once(self) -> None:
        """One pass: roll up and purge."""
        try:
            days = rollup(self.store)
            purged = purge(self.store)
        except QueueError as exc:
            log.warning("reports: daily rollup or purge failed: %s", exc.message)
            return
        if days or any(purged.values()):
            log.info("reports: rolled up %d day(s); purged %d comment(s), %d status token(s)",
                     len(days), purged["comments"], purged["tokens"])

    def run(self, sleep: Callable[[float], Any]) -> None:
        """The background loop."""
        while True:
            self.once()
            sleep(self.EVERY)


# --- files ----------------------------------------------------------------------------------

def table(body: dict[str, Any], lang: str = "az") -> tuple[list[str], list[list[Any]]]:
    """A report as a header and rows (the total last), for CSV, XLSX and the terminal."""
    import i18n

    header = ["key", "name", *FIGURES]
    words = i18n.entries(lang if lang in i18n.LANGS else i18n.DEFAULT)
    # The rows without a key are named as the reports page names them: ordinary tickets (by priority), else
    # the tickets no counter (or operator) took; the total row's name is the page's "total" word.
    unkeyed = words[("staff", "rp_ordinary" if body.get("by") == "priority" else "rp_no_counter")]

    def line(row: dict[str, Any]) -> list[Any]:
        name = row.get("name") or {}
        return [row["key"] if row["key"] is not None else "",
                name.get(lang) or name.get("az") or ("" if row["key"] is not None else unkeyed),
                *(row[f] for f in FIGURES)]

    rows = [line(r) for r in body["rows"]]
    rows.append(["total", words[("staff", "rp_total")], *(body["total"][f] for f in FIGURES)])
    return header, rows


def grid_table(body: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """The arrivals heat map as a table: one row per weekday, one column per hour."""
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    return ["weekday", *(f"{h:02d}" for h in range(24))], [[d, *row] for d, row in zip(days, body["grid"])]


def to_csv(header: list[str], rows: list[list[Any]]) -> bytes:
    """CSV (UTF-8 with a byte-order mark, so spreadsheet programs read ə and Cyrillic right)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(header)
    w.writerows([["" if v is None else v for v in r] for r in rows])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(header: list[str], rows: list[list[Any]], *, title: str, about: dict[str, Any]) -> bytes:
    """An XLSX workbook (openpyxl): the table on the first sheet, what it is on the second."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = title[:31]
    ws.append(header)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for r in rows:
        ws.append(r)
    shares = {i + 1 for i, h in enumerate(header) if h in ("within_target", "satisfied_share", "response_rate")}
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            if cell.column in shares:
                cell.number_format = "0.0%"
    ws.freeze_panes = "C2" if "name" in header else "B2"
    info = wb.create_sheet("about")
    for k, v in about.items():
        info.append([k, v])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def read_xlsx(data: bytes) -> list[list[Any]]:
    """The first sheet of an XLSX file back as rows (for tests and for checking an export)."""
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    return [list(r) for r in ws.iter_rows(values_only=True)]


def generated_at(store: Any) -> str:
    """Now in the center's time, for a file's 'about' sheet."""
    return datetime.fromtimestamp(store.clock(), store.cfg.tz).isoformat(timespec="seconds")
