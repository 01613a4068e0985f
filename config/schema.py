"""The center configuration: frozen, validated models of one ``config/centers/*.toml`` file.

Pydantic does the validation; :mod:`config.loader` turns its errors into one
message that names the file, the key and the nearest valid key.
"""
from __future__ import annotations

import re
from functools import cached_property
from datetime import time
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

LANGS = ("az", "ru", "en")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(_Frozen):
    """A text in the three languages; Azerbaijani is required, the others fall back to it."""

    az: str = Field(min_length=1)
    ru: str = ""
    en: str = ""

    def get(self, lang: str) -> str:
        """The text in ``lang``, falling back to Azerbaijani."""
        return getattr(self, lang, "") or self.az


class Hours(_Frozen):
    """Opening hours for one weekday, e.g. ``"09:00-18:00"``; an empty string means closed."""

    opens: time | None = None
    closes: time | None = None

    @classmethod
    def parse(cls, value: str) -> "Hours":
        """Parse ``"HH:MM-HH:MM"`` or ``""`` (closed)."""
        if not value:
            return cls()
        m = _HOURS.match(value)
        if not m:
            raise ValueError(f"opening hours must look like '09:00-18:00' or '' (closed), not {value!r}")
        h1, m1, h2, m2 = (int(x) for x in m.groups())
        opens, closes = time(h1, m1), time(h2, m2)
        if closes <= opens:
            raise ValueError(f"closing time must be after opening time in {value!r}")
        return cls(opens=opens, closes=closes)


class Center(_Frozen):
    """The center itself."""

    id: str = Field(pattern=r"^[a-z0-9-]+$")
    name: Text
    kind: Literal["center", "regional-center", "branch", "point"] = "center"
    timezone: str = "Asia/Baku"
    daily_capacity: int | None = Field(default=None, gt=0, description="optional hard ceiling of tickets a day; "
                                       "what turns citizens away is counter time (see server/core/capacity.py)")
    languages: tuple[str, ...] = LANGS
    announce_languages: tuple[str, ...] = ("az", "ru")
    hours: dict[str, Hours]
    footer: Text | None = None
    news: Text | None = None
    base_url: str = ""

    @field_validator("hours", mode="before")
    @classmethod
    def _hours(cls, value: object) -> object:
        if not isinstance(value, dict):
            return value
        unknown = set(value) - set(WEEKDAYS)
        if unknown:
            raise ValueError(f"unknown weekday(s) {sorted(unknown)}; use {', '.join(WEEKDAYS)}")
        return {day: Hours.parse(value.get(day, "")) if isinstance(value.get(day, ""), str) else value[day]
                for day in WEEKDAYS}

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r} (for example 'Asia/Baku')") from None
        return value

    @field_validator("languages", "announce_languages")
    @classmethod
    def _langs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [x for x in value if x not in LANGS]
        if bad:
            raise ValueError(f"unsupported language(s) {bad}; use {', '.join(LANGS)}")
        return value


class Policy(_Frozen):
    """Queue rules that a center may tune."""

    recall_limit: int = Field(default=3, ge=0)
    priority_streak: int = Field(default=3, ge=1, description="after this many priority calls in a row, an ordinary ticket goes next")
    starvation_minutes: int = Field(default=30, ge=1, description="a ticket waiting longer than this goes ahead of the counter's preference order")
    allow_call_specific: bool = True
    kiosk_rate_limit: str = "20 per minute"
    kiosk_idle_seconds: int = Field(default=30, ge=5)
    board_flash_seconds: int = Field(default=8, ge=1)
    outcomes: tuple[str, ...] = Field(default=("served", "documents-missing", "referred", "consultation"), min_length=1)
    service_window: int = Field(default=20, ge=1, description="how many recent services feed the live service rate")
    history_days: int = Field(default=14, ge=0, description="days of finished services the forecast learns from")
    closing_grace_minutes: int = Field(default=10, ge=0, description="a ticket is issued if its service should end "
                                       "by closing time plus this")
    closing_confidence: float = Field(default=0.95, ge=0.5, lt=1, description="how sure the forecast must be that a "
                                      "new ticket's service ends by closing time plus the grace")
    pause_minutes: int = Field(default=15, ge=1, description="how long an unplanned pause is expected to last")
    late_open_minutes: int = Field(default=15, ge=0, description="a counter not opened this long after opening "
                                   "is taken as unstaffed today")
    print_hold_minutes: float = Field(default=5, gt=0, description="a ticket not printed this long after it was "
                                      "issued is held for staff (who can reprint it), not printed late")
    print_backlog_seconds: float = Field(default=3, ge=0, description="after a printer outage, the tickets that "
                                         "waited print one per this many seconds, not in one burst")
    printer_poll_seconds: float = Field(default=5, ge=1, le=300, description="idle printers are asked their "
                                        "state this often")


    @field_validator("kiosk_rate_limit")
    @classmethod
    def _rate(cls, value: str) -> str:
        from limits import parse

        try:
            parse(value)
        except ValueError:
            raise ValueError(f"a rate looks like '20 per minute' or '5/second', not {value!r}") from None
        return value


class Demand(_Frozen):
    """A normal day's demand, for ``novbe simulate`` and ``novbe plan`` (not used to serve citizens)."""

    citizens: int = Field(gt=0, description="citizens on a normal day")
    hourly: tuple[float, ...] = Field(default=(), description="share of arrivals per opening hour, in order")
    mix: dict[str, float] = Field(default_factory=dict, description="service -> weight (default: its quota)")
    priority: dict[str, float] = Field(default_factory=dict, description="priority group -> share of the "
                                       "arrivals of services that honour it")
    no_show: float = Field(default=0.05, ge=0, le=1)
    transfer: float = Field(default=0.03, ge=0, le=1)
    service_cv: float = Field(default=0.5, ge=0, le=3, description="spread of service times")


class RatingReason(_Frozen):
    """A reason a citizen may give for a low rating (a short code and its text)."""

    code: str = Field(pattern=r"^[a-z0-9-]+$")
    name: Text


class Ratings(_Frozen):
    """The citizen's rating of the visit (server/core/rating.py)."""

    enabled: bool = True
    reasons: tuple[RatingReason, ...] = Field(default=(), description="offered when the score is 1-3")
    window_hours: int = Field(default=48, ge=1, description="how long after finishing a ticket can be rated")
    screen_seconds: int = Field(default=90, ge=10, le=900, description="how long a counter's rating screen "
                                "keeps asking about the ticket it just finished")


class Retention(_Frozen):
    """How long what is personal is kept (``novbe purge`` and the daily job); 0 keeps it forever."""

    rating_comments_days: int = Field(default=90, ge=0, description="citizens' free-text comments")
    status_tokens_days: int = Field(default=30, ge=0, description="status-page links (the ticket's QR)")


class Reports(_Frozen):
    """Reports (server/reports.py)."""

    target_share: float = Field(default=0.8, gt=0, le=1, description="reports flag a service or counter when "
                                "fewer than this share of its citizens were called within the target wait")


class PriorityGroup(_Frozen):
    """A group of citizens served first."""

    code: str = Field(pattern=r"^[a-z0-9-]+$")
    name: Text
    rank: int = Field(default=1, ge=1)


class Agency(_Frozen):
    code: str = Field(pattern=r"^[A-Za-z0-9-]+$")
    name: Text


class Area(_Frozen):
    code: str = Field(pattern=r"^[a-z0-9-]+$")
    name: Text
    agency: str
    hall: str = "main"
    # Everyone served in this area belongs to this group (the şəhid families' and qazi desk): the kiosk
    # does not ask about it there, and the area's tickets carry it when their service honours it.
    priority_group: str | None = None


class Service(_Frozen):
    code: str = Field(pattern=r"^[A-Z0-9-]+$")
    area: str
    agency: str | None = None
    letter: Annotated[str, Field(min_length=1, max_length=1)]
    name: Text
    description: Text | None = None
    quota: int = Field(gt=0)
    target_minutes: int = Field(default=10, gt=0)
    target_wait: int = Field(default=30, gt=0)
    documents: tuple[Text, ...] = ()
    priority_groups: tuple[str, ...] = ()

    @field_validator("letter")
    @classmethod
    def _letter(cls, value: str) -> str:
        if not value.isalpha() or not value.isupper():
            raise ValueError(f"a ticket letter is one capital letter (A, B, Ə, Ş…), not {value!r}")
        return value


class Counter(_Frozen):
    number: int = Field(gt=0)
    name: Text | None = None
    services: tuple[str, ...] = Field(min_length=1)
    daily_limit: int = Field(default=0, ge=0, description="0 means no limit")
    display: str | None = Field(default=None, description="pyserial URL of an LED counter display")
    display_protocol: str = "plain"
    display_format: str | None = Field(default=None, description=r"plain protocol line, e.g. '{number} {counter}\r\n'")
    buttons: str | None = Field(default=None, description="pyserial URL of a call-button keypad")
    rating_keypad: str | None = Field(default=None, description="pyserial URL of a citizen's rating keypad: "
                                      "keys 1-5 rate the visit this counter finished last")
    breaks: tuple[str, ...] = Field(default=(), description="planned breaks, local time, e.g. ['13:00-14:00']")

    @field_validator("breaks")
    @classmethod
    def _breaks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        spans = [Hours.parse(v) for v in value]
        for v, h in zip(value, spans):
            if h.opens is None or h.closes is None:
                raise ValueError(f"a break looks like '13:00-14:00', not {v!r}")
        ordered = sorted((h.opens, h.closes) for h in spans)  # type: ignore[type-var]
        for (a0, a1), (b0, _) in zip(ordered, ordered[1:]):
            if b0 < a1:  # type: ignore[operator]
                raise ValueError(f"breaks overlap: {value}")
        return value

    @cached_property
    def break_spans(self) -> tuple[tuple[time, time], ...]:
        """Planned breaks as (start, end) local times, in order."""
        spans = [Hours.parse(v) for v in self.breaks]
        return tuple(sorted((h.opens, h.closes) for h in spans if h.opens and h.closes))


class Kiosk(_Frozen):
    name: str = Field(pattern=r"^[a-z0-9-]+$")
    printer: str = "dummy://"
    profile: str = "TM-T88V"
    paper: Literal["80mm", "58mm"] = "80mm"
    areas: tuple[str, ...] = ()


class Board(_Frozen):
    name: str = Field(pattern=r"^[a-z0-9-]+$")
    counters: tuple[int, ...] = ()
    areas: tuple[str, ...] = ()
    recent: int = Field(default=8, ge=1, le=30)
    single_counter: int | None = None


class CenterConfig(_Frozen):
    """A whole center configuration file."""

    center: Center
    policy: Policy = Policy()
    priority_groups: tuple[PriorityGroup, ...] = ()
    agencies: tuple[Agency, ...]
    areas: tuple[Area, ...]
    services: tuple[Service, ...]
    counters: tuple[Counter, ...]
    kiosks: tuple[Kiosk, ...] = ()
    boards: tuple[Board, ...] = ()
    demand: Demand | None = None
    ratings: Ratings = Ratings()
    retention: Retention = Retention()
    reports: Reports = Reports()

    @model_validator(mode="after")
    def _references(self) -> "CenterConfig":
        def unique(items: tuple, attr: str, what: str) -> set:
            seen: set = set()
            for item in items:
                key = getattr(item, attr)
                if key in seen:
                    raise ValueError(f"{what} {key!r} is defined twice")
                seen.add(key)
            return seen

        agencies = unique(self.agencies, "code", "agency")
        areas = unique(self.areas, "code", "area")
        services = unique(self.services, "code", "service")
        groups = unique(self.priority_groups, "code", "priority group")
        unique(self.ratings.reasons, "code", "rating reason")
        unique(self.counters, "number", "counter")
        unique(self.kiosks, "name", "kiosk")
        unique(self.boards, "name", "board")
        for a in self.areas:
            _ref(a.agency, agencies, f"area {a.code!r}: agency")
            if a.priority_group is not None:
                _ref(a.priority_group, groups, f"area {a.code!r}: priority_group")
        for s in self.services:
            _ref(s.area, areas, f"service {s.code!r}: area")
            if s.agency:
                _ref(s.agency, agencies, f"service {s.code!r}: agency")
            for g in s.priority_groups:
                _ref(g, groups, f"service {s.code!r}: priority group")
        for c in self.counters:
            for code in c.services:
                _ref(code, services, f"counter {c.number}: service")
            if len(set(c.services)) != len(c.services):
                raise ValueError(f"counter {c.number}: a service is listed twice")
        missing = [x for x in self.center.announce_languages if x not in self.center.languages]
        if missing:
            raise ValueError(f"center.announce_languages {missing} must also be in center.languages")
        counters = {c.number for c in self.counters}
        for b in self.boards:
            for n in (*b.counters, *((b.single_counter,) if b.single_counter is not None else ())):
                _ref(n, counters, f"board {b.name!r}: counter")
            for code in b.areas:
                _ref(code, areas, f"board {b.name!r}: area")
        for k in self.kiosks:
            for code in k.areas:
                _ref(code, areas, f"kiosk {k.name!r}: area")
        if self.demand is not None:
            for code in self.demand.mix:
                _ref(code, services, "demand.mix: service")
            for g in self.demand.priority:
                _ref(g, groups, "demand.priority: group")
        served = {code for c in self.counters for code in c.services}
        orphans = [s.code for s in self.services if s.code not in served]
        if orphans:
            raise ValueError(f"no counter serves service(s) {orphans[:5]}: add them to a counter's services")
        return self

    # Lookups used everywhere; cached per instance because the config is frozen.
    @cached_property
    def services_by_code(self) -> dict[str, Service]:
        """Services by code."""
        return {s.code: s for s in self.services}

    @cached_property
    def areas_by_code(self) -> dict[str, Area]:
        """Areas by code."""
        return {a.code: a for a in self.areas}

    @cached_property
    def counters_by_number(self) -> dict[int, Counter]:
        """Counters by number."""
        return {c.number: c for c in self.counters}

    @cached_property
    def groups_by_code(self) -> dict[str, PriorityGroup]:
        """Priority groups by code."""
        return {g.code: g for g in self.priority_groups}

    @cached_property
    def rank_of(self) -> dict[str, int]:
        """Priority rank by group code (lower goes first)."""
        return {g.code: g.rank for g in self.priority_groups}

    @cached_property
    def target_wait_s(self) -> dict[str, float]:
        """Each service's target wait, in seconds."""
        return {s.code: s.target_wait * 60.0 for s in self.services}

    @cached_property
    def tz(self) -> ZoneInfo:
        """The center's time zone."""
        return ZoneInfo(self.center.timezone)


def _ref(value: object, known: set, where: str) -> None:
    if value not in known:
        from difflib import get_close_matches

        if isinstance(value, int):
            hint = f" (counters are {min(known)}-{max(known)})" if known else ""
            raise ValueError(f"{where} {value} is not defined{hint}")
        near = get_close_matches(str(value), [str(k) for k in known], n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise ValueError(f"{where} {value!r} is not defined{hint}")
