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


class DeviceRequest(_Req):
    kind: Literal["kiosk", "display"]
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
    eta_minutes: int = Field(description="forecast wait, the central figure, in minutes")
    eta_low: int = Field(description="low end of the forecast wait range, minutes")
    eta_high: int = Field(description="high end of the forecast wait range, minutes")
    eta_at: str | None = Field(description="forecast call time, center time, ISO 8601")
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
                                                "today as things stand")
    eta_low: int | None = None
    eta_high: int | None = None
    eta_at: str | None = Field(default=None, description="forecast call time, center time, ISO 8601")
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


def build_openapi(routes: list[dict[str, Any]], version: str) -> dict[str, Any]:
    """The OpenAPI 3 document: schemas from pydantic, assembled by apispec."""
    spec = APISpec(
        title="Növbə API", version=version, openapi_version="3.0.3",
        info={"description": "Queue management for DOST service centers. Errors: "
                             '{"ok": false, "error": "<stable code>", "message": "..."}'},
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
        for code in r.get("errors", ()):
            op["responses"][str(code)] = {"description": "error", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}
        if r.get("security"):
            op["security"] = [{r["security"]: []}]
        if r.get("parameters"):
            op["parameters"] = r["parameters"]
        for method in r["methods"]:
            by_path.setdefault(r["path"], {})[method.lower()] = op
    for path, ops in by_path.items():
        spec.path(path=path, operations=ops)
    return spec.to_dict()
