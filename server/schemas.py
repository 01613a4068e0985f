"""Request and response schemas of the JSON API (pydantic), and the OpenAPI 3 document built from them."""
from __future__ import annotations

from typing import Any, Literal

from apispec import APISpec
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema


class _Req(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class TicketRequest(_Req):
    """A kiosk asks for a ticket."""

    service: str = Field(min_length=1, max_length=32, examples=["EMP-01"])
    lang: Literal["az", "ru", "en"] = "az"
    priority: str | None = Field(default=None, max_length=32, examples=["shehid-qazi"])
    large_print: bool = False   # the accessible mode: the number in large type on the paper


class LoginRequest(_Req):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


class PauseRequest(_Req):
    reason: str = Field(min_length=1, max_length=200, examples=["Nahar fasiləsi"])


class FinishRequest(_Req):
    outcome: str = Field(default="served", max_length=64)


class TransferRequest(_Req):
    """Exactly one of ``service`` or ``counter``."""

    service: str | None = Field(default=None, max_length=32)
    counter: int | None = Field(default=None, gt=0, lt=10_000)
    note: str | None = Field(default=None, max_length=500)


class NumberRequest(_Req):
    number: str = Field(min_length=3, max_length=16, examples=["A-015"])


class ServicesRequest(_Req):
    services: list[str] = Field(min_length=1, max_length=200)


class UserRequest(_Req):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=8, max_length=200)
    role: Literal["operator", "supervisor", "admin"]
    only_new: bool = Field(default=False, description="refuse (409 user_exists) rather than reset an existing "
                           "account's password and role")


class DeviceRequest(_Req):
    kind: Literal["kiosk", "display", "rating"]
    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9-]+$")


# --- responses (documented; built by the views) --------------------------------

class ErrorResponse(BaseModel):
    ok: Literal[False] = False
    error: str = Field(description="stable code, e.g. capacity_reached")
    message: str


class HealthResponse(BaseModel):
    ok: bool
    center: str
    seq: int
    version: str
    time: str


class TicketIssuedResponse(BaseModel):
    ok: Literal[True] = True
    number: str = Field(examples=["A-001"])
    service: str
    service_name: str
    ahead: int = Field(description="tickets the forecast calls before this one at the counters that can serve it")
    eta_minutes: int | None = Field(description="forecast wait, the central figure, in minutes; null when only a "
                                                "counter that has not opened yet serves it (the citizen is told "
                                                "\"waiting for a counter to open\")")
    eta_low: int = Field(description="low end of the forecast wait range, minutes (0 when eta_minutes is null)")
    eta_high: int = Field(description="high end of the forecast wait range, minutes (0 when eta_minutes is null)")
    eta_at: str | None = Field(description="forecast call time, center time, ISO 8601")
    eta_reason: Literal["counter_not_open", "no_counter_today"] | None = Field(
        default=None, description="why eta_minutes is null: \"counter_not_open\" (only a counter that has not opened yet, "
                                  "though it was due, would call it: the citizen is told \"waiting for a counter to "
                                  "open\") or \"no_counter_today\" (as things stand no counter will call it today: "
                                  "its counters are out for the day or at their daily limit); null when there is a figure")
    status_url: str
    issued_at: str = Field(description="center time, ISO 8601")
    priority: str | None = None
    seq: int
    printing: bool = Field(description="a print job was queued for this kiosk's printer")


class TicketStatusResponse(BaseModel):
    ok: Literal[True] = True
    number: str
    service: str
    service_name: dict[str, str]
    status: str
    counter: int | None
    ahead: int
    eta_minutes: int | None = Field(description="forecast wait in minutes; null when no counter will call it "
                                                "today as things stand, or only one that has not opened yet")
    eta_low: int | None = None
    eta_high: int | None = None
    eta_at: str | None = Field(default=None, description="forecast call time, center time, ISO 8601")
    eta_reason: Literal["counter_not_open", "no_counter_today"] | None = Field(
        default=None, description="why eta_minutes is null: \"counter_not_open\" (only a counter that has not opened yet, "
                                  "though it was due, would call it: the citizen is told \"waiting for a counter to "
                                  "open\") or \"no_counter_today\" (as things stand no counter will call it today: "
                                  "its counters are out for the day or at their daily limit); null when there is a figure")
    lang: str


class StaffTicket(BaseModel):
    id: int
    number: str
    service: str
    status: str
    priority: str | None
    counter: int | None
    recalls: int


class CounterActionResponse(BaseModel):
    ok: Literal[True] = True
    number: str | None = Field(description="the ticket concerned; null when nothing is waiting")
    ticket: StaffTicket | None
    message: str | None = None


class CounterStateResponse(BaseModel):
    ok: Literal[True] = True
    counter: int
    state: str
    reason: str | None
    services: list[str]


class LoginResponse(BaseModel):
    ok: Literal[True] = True
    username: str
    role: str
    csrf_token: str


class ServicesResponse(BaseModel):
    ok: Literal[True] = True
    open: bool
    day: str
    next_opening: str | None
    areas: list[dict[str, Any]]
    services: list[dict[str, Any]]


class DeviceResponse(BaseModel):
    ok: Literal[True] = True
    kind: str
    name: str
    token: str


class OkResponse(BaseModel):
    ok: Literal[True] = True


SCHEMAS: list[type[BaseModel]] = [
    TicketRequest, LoginRequest, PauseRequest, FinishRequest, TransferRequest, NumberRequest,
    ServicesRequest, UserRequest, DeviceRequest, ErrorResponse, HealthResponse, TicketIssuedResponse,
    TicketStatusResponse, CounterActionResponse, CounterStateResponse, LoginResponse, ServicesResponse,
    DeviceResponse, OkResponse,
]


_ERROR = {"description": "error", "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}
# A page's 404: a friendly HTML page for a browser, the JSON error for a client asking for JSON.
_PAGE_404 = {"description": "not found", "content": {"text/html": {"schema": {"type": "string"}},
                                                     "application/json": {
                                                         "schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}

#: Routes outside /api that clients reach by address (the ticket's QR code, the boards' audio):
#: documented here so the document lists every route the server answers.
PAGES: dict[str, dict[str, Any]] = {
    "/api/openapi.json": {"get": {
        "summary": "This document (OpenAPI 3.1)", "tags": ["public"],
        "responses": {"200": {"description": "the OpenAPI document", "content": {"application/json": {
            "schema": {"type": "object"}}}}},
    }},
    "/display/audio": {"get": {
        "summary": "One call's announcement, chime then speech, as one WAV: for a call made today to that counter "
                   "(no token), or anything well-formed for a display board's token",
        "tags": ["display"],
        "security": [{}, {"device": []}],
        "parameters": [
            {"name": "number", "in": "query", "required": True,
             "schema": {"type": "string", "pattern": "^[A-ZƏÇĞİÖŞÜ]-[0-9]{1,4}$", "examples": ["A-015"]}},
            {"name": "counter", "in": "query", "required": True,
             "schema": {"type": "integer", "minimum": 1, "examples": [7]}},
        ],
        "responses": {
            "200": {"description": "the announcement (or the chime alone when speech is unavailable)",
                    "content": {"audio/wav": {"schema": {"type": "string", "contentMediaType": "audio/wav"}}}},
            "400": _ERROR,
            "401": {**_ERROR, "description": "unauthorized: a token that is not a display board's"},
            "404": {**_ERROR, "description": "call_not_found: no such call today"},
            "410": {**_ERROR, "description": "announcement_expired: an earlier call no longer kept"},
        },
    }},
    "/kiosk/qr.svg": {"get": {
        "summary": "A QR code of one of this server's status-page addresses, as SVG",
        "tags": ["kiosk"],
        "parameters": [{"name": "data", "in": "query", "required": True,
                        "schema": {"type": "string", "examples": ["http://127.0.0.1:5000/t/AbCdEfGh12345678"]}}],
        "responses": {
            "200": {"description": "the QR code", "content": {"image/svg+xml": {"schema": {"type": "string"}}}},
            "404": _PAGE_404,
        },
    }},
    "/kiosk/speak": {"get": {
        "summary": "One phrase of the kiosk's accessible mode spoken by espeak-ng, as WAV (kiosk device token): a "
                   "phrase of the kiosk's catalogue, a name of this center (svc:, area:, group:) or a ticket number "
                   "(number:A-015); idle_spoken takes s, next_opening takes day and time, ahead_spoken takes n, "
                   "eta_spoken takes m, eta_range_spoken takes a and b, nothing else is filled",
        "tags": ["kiosk"],
        "security": [{"device": []}],
        "parameters": [
            {"name": "text", "in": "query", "required": True,
             "schema": {"type": "string", "maxLength": 80, "examples": ["welcome", "svc:EMP-01", "next_opening"]}},
            {"name": "lang", "in": "query", "required": True, "schema": {"type": "string", "enum": ["az", "ru", "en"]}},
            {"name": "s", "in": "query", "required": False,
             "description": "seconds, for idle_spoken: at most 120, or 4 x policy.kiosk_idle_seconds when that is "
                            "more (the countdown of an unprinted ticket's screen)",
             "schema": {"type": "integer", "minimum": 0}},
            {"name": "day", "in": "query", "required": False, "description": "for next_opening",
             "schema": {"type": "string", "enum": ["today", "tomorrow", "mon", "tue", "wed", "thu", "fri", "sat",
                                                   "sun"]}},
            {"name": "time", "in": "query", "required": False,
             "description": "for next_opening: one of the center's opening times",
             "schema": {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$", "examples": ["09:00"]}},
            {"name": "n", "in": "query", "required": False,
             "description": "people ahead, for ahead_spoken: at most the center's tickets a day (the services' "
                            "quotas, or center.daily_capacity when lower)",
             "schema": {"type": "integer", "minimum": 1}},
            {"name": "m", "in": "query", "required": False,
             "description": "minutes, for eta_spoken: at most the longest opening day plus "
                            "policy.closing_grace_minutes",
             "schema": {"type": "integer", "minimum": 1}},
            {"name": "a", "in": "query", "required": False,
             "description": "the wait range's low end in minutes, for eta_range_spoken (same bound as m)",
             "schema": {"type": "integer", "minimum": 0}},
            {"name": "b", "in": "query", "required": False,
             "description": "the wait range's high end in minutes, for eta_range_spoken: more than a + 1 (same "
                            "bound as m)",
             "schema": {"type": "integer", "minimum": 2}},
        ],
        "responses": {
            "200": {"description": "the phrase", "content": {"audio/wav": {
                "schema": {"type": "string", "contentMediaType": "audio/wav"}}}},
            "400": {**_ERROR, "description": "invalid_request: not a phrase the kiosk may say, or a fill outside "
                                             "its checked set (field names the parameter)"},
            "401": {**_ERROR, "description": "unauthorized: not a kiosk's device token"},
            "503": {**_ERROR, "description": "speech_unavailable: espeak-ng could not speak"},
        },
    }},
    "/t/{token}": {"get": {
        "summary": "The citizen's live status page (what the ticket's QR code opens)",
        "tags": ["public"],
        "parameters": [
            {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}},
            {"name": "lang", "in": "query", "required": False, "schema": {"type": "string"}},
        ],
        "responses": {
            "200": {"description": "the page", "content": {"text/html": {"schema": {"type": "string"}}}},
            "404": _PAGE_404,
        },
    }},
}


def build_openapi(routes: list[dict[str, Any]], version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document: schemas from pydantic (JSON Schema 2020-12, as 3.1 takes it), assembled by apispec."""
    spec = APISpec(
        title="Növbə API", version=version, openapi_version="3.1.0",
        info={"description": "Queue management for DOST service centers. Errors: "
                             '{"ok": false, "error": "<stable code>", "message": "..."}. Any route may answer '
                             "503 (storage_full, storage_read_only, storage_unavailable) when the disk fails."},
    )
    spec.components.security_scheme("device", {"type": "http", "scheme": "bearer"})
    spec.components.security_scheme("session", {"type": "apiKey", "in": "cookie", "name": "session"})
    _, defs = models_json_schema([(m, "validation") for m in SCHEMAS], ref_template="#/components/schemas/{model}")
    for name, schema in defs.get("$defs", {}).items():
        spec.components.schema(name, schema)
    by_path: dict[str, dict[str, Any]] = {}
    for r in routes:
        op: dict[str, Any] = {"summary": r["summary"], "tags": [r["tag"]], "responses": {}}
        if r.get("body"):
            op["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{r['body'].__name__}"}}}}
        ok_model = r.get("response")
        op["responses"][str(r.get("status", 200))] = {
            "description": "success",
            **({"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ok_model.__name__}"}}}}
               if ok_model else {}),
        }
        errors = set(r.get("errors", ())) | {503}
        if r.get("security") == "session" and set(r["methods"]) - {"GET"}:
            errors.add(400)  # csrf_failed: a staff change without the X-CSRFToken header
        for media in r.get("produces", ()):   # a file instead of JSON (e.g. format=csv)
            op["responses"][str(r.get("status", 200))].setdefault("content", {})[media] = {
                "schema": {"type": "string", "contentMediaType": media}}
        for code in sorted(errors):
            op["responses"][str(code)] = _ERROR
        if r.get("security"):
            op["security"] = [{r["security"]: []}]
        if r.get("parameters"):
            op["parameters"] = r["parameters"]
        for method in r["methods"]:
            by_path.setdefault(r["path"], {})[method.lower()] = op
    for path, ops in {**by_path, **PAGES}.items():
        spec.path(path=path, operations=ops)
    return spec.to_dict()


# --- the citizen's rating and reports (server.core.rating, server.reports) --------------------------

class RatingRequest(_Req):
    """The citizen rates the visit on the status page."""

    score: int = Field(ge=1, le=5, strict=True, description="1 (very bad) to 5 (very good); 4 and 5 count as "
                       "satisfied")
    reason: str | None = Field(default=None, max_length=32, description="one of the center's reason codes")
    comment: str | None = Field(default=None, max_length=500, description="free text, removed after the "
                                "center's retention period")


class ScreenRatingRequest(_Req):
    """A counter's rating screen rates the visit that counter finished last."""

    score: int = Field(ge=1, le=5, strict=True)
    reason: str | None = Field(default=None, max_length=32)
    ticket: int | None = Field(default=None, ge=1, le=2**53, description="the ticket the screen asked about "
                               "(refused if the counter has finished another one since)")


class RatingResponse(BaseModel):
    ok: Literal[True] = True
    score: int
    satisfied: bool
    seq: int


class RatingReasonItem(BaseModel):
    code: str
    name: dict[str, str]


class RatingStateResponse(BaseModel):
    ok: Literal[True] = True
    rated: bool = Field(description="this visit has been rated")
    can_rate: bool = Field(description="a rating would be accepted now")
    status: str
    reasons: list[RatingReasonItem]


class ScreenQuestion(BaseModel):
    ticket: int
    number: str
    service: str
    service_name: dict[str, str]
    finished_at: float
    until: float = Field(description="epoch seconds: the screen stops asking then")


class ScreenStateResponse(BaseModel):
    ok: Literal[True] = True
    counter: int
    question: ScreenQuestion | None
    reasons: list[RatingReasonItem]


class ReportRow(BaseModel):
    key: str | int | None = Field(description="the group: a code, a counter or hour number, a day, or null "
                                  "(no counter/operator/priority group)")
    name: dict[str, str] | None
    issued: int
    served: int
    no_show: int
    cancelled: int
    transferred: int
    refused: int
    wait_mean: int | None = Field(description="seconds")
    wait_p50: int | None
    wait_p90: int | None
    wait_max: int | None
    service_p50: int | None
    service_p90: int | None
    within_target: float | None = Field(description="share (0-1) of waits within the service's target wait")
    ratings: int
    satisfied_share: float | None = Field(description="share (0-1) of ratings of 4 or 5")
    response_rate: float | None = Field(description="ratings per served ticket")


class ReportResponse(BaseModel):
    ok: Literal[True] = True
    from_: str = Field(alias="from")
    to: str
    by: str
    rows: list[ReportRow]
    total: ReportRow
    refused_by: dict[str, int]
    target_share: float


class ArrivalsResponse(BaseModel):
    ok: Literal[True] = True
    from_: str = Field(alias="from")
    to: str
    days: int
    grid: list[list[int]] = Field(description="7 rows (Monday first) of 24 hours: tickets issued")


SCHEMAS += [RatingRequest, ScreenRatingRequest, RatingResponse, RatingStateResponse, ScreenStateResponse,
            ReportResponse, ArrivalsResponse]


# --- administration (the admin page /counter/admin) ---------------------------------------------------

class UserChangeRequest(_Req):
    """Change an existing staff account: any of a new password, a role, disabled or enabled (its sessions end)."""

    password: str | None = Field(default=None, min_length=8, max_length=200)
    role: Literal["operator", "supervisor", "admin"] | None = None
    disabled: bool | None = None


class UserSavedResponse(BaseModel):
    ok: Literal[True] = True
    username: str
    role: str
    created: bool = Field(description="false: an existing account's password and role were reset")


class UserItem(BaseModel):
    username: str
    role: str
    disabled: int = Field(description="1: disabled (cannot log in)")
    created_at: float | None


class UsersResponse(BaseModel):
    ok: Literal[True] = True
    users: list[UserItem]


class DeviceItem(BaseModel):
    kind: str
    name: str
    configured: bool = Field(description="the center file lists it")
    token: bool = Field(description="it holds a token (the token itself is never shown again)")
    created_at: float | None
    last_seen: float | None
    state: Literal["ok", "no_token", "refused"]


class DevicesResponse(BaseModel):
    ok: Literal[True] = True
    devices: list[DeviceItem]


class AdminEventItem(BaseModel):
    seq: int
    event: Literal["staff-changed", "device-changed"]
    at: float
    actor: str | None
    change: str
    username: str | None = None
    role: str | None = None
    kind: str | None = None
    device: str | None = None


class AdminAuditResponse(BaseModel):
    ok: Literal[True] = True
    events: list[AdminEventItem]


SCHEMAS += [UserChangeRequest, UserSavedResponse, UsersResponse, DevicesResponse, AdminAuditResponse]
