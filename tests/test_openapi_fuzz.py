"""The OpenAPI document, checked and fuzzed against a real server (schemathesis).

The document must be valid OpenAPI 3.1 and list every route the server answers; then
schemathesis sends generated requests (valid and invalid) to ``novbe run`` on a loopback
port, once as a kiosk (Bearer token) and once as a staff session (cookie + X-CSRFToken):
no answer may be a 5xx, and every answer must be documented (status code, content type,
body schema). The number of examples is bounded to keep the file under about a minute.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from live import LiveServer
from server import api
from server.app import VERSION
from server.schemas import build_openapi

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Per operation and per identity: ~45 operations x 2 identities stay under a minute.
# NOVBE_FUZZ_EXAMPLES=200 for a deeper run by hand.
EXAMPLES = int(os.environ.get("NOVBE_FUZZ_EXAMPLES", "10"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
# Anything that ends the identity being fuzzed would leave the rest of the run anonymous.
STAFF_EXCLUDED = ("/api/logout", "/api/login")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("openapi")
    live = LiveServer(tmp, env={"NOVBE_VOICE_CACHE": str(tmp / "voice-cache")}).start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def staff(server: LiveServer) -> Iterator[requests.Session]:
    # Logged in before any fuzzing: the fuzzed logins would otherwise slow this one down.
    s = server.login("admin")
    # Something to find: tickets waiting, one called, so staff verbs meet real state.
    for _ in range(3):
        server.issue("EMP-01").raise_for_status()
    s.post(server.url + "/api/counters/1/open", timeout=5).raise_for_status()
    s.post(server.url + "/api/counters/1/call-next", timeout=5).raise_for_status()
    yield s
    s.close()


@pytest.fixture(scope="module")
def document(server: LiveServer) -> dict[str, Any]:
    r = requests.get(server.url + "/api/openapi.json", timeout=5)
    r.raise_for_status()
    return r.json()  # type: ignore[no-any-return]


# Built in-process at collection (the served document is checked to be the same one below):
# schemathesis's lazy ``from_fixture`` loader does not run under pytest 9.2 (it sets a node
# attribute that pytest removed).
SPEC = build_openapi(api.ROUTES, VERSION)
schema = schemathesis.openapi.from_dict(SPEC)


@pytest.fixture(scope="module")
def kiosk(server: LiveServer, staff: requests.Session) -> Iterator[requests.Session]:
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {server.kiosk_token()}"
    yield s
    s.close()




def _flask_path(rule: str) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule)


def test_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1.")
    assert document == SPEC     # what is fuzzed below is what the server serves
    validate(document)          # openapi-spec-validator: the whole document against the 3.1 schema
    schema.validate()           # and schemathesis's own reading of it


def test_document_lists_every_route(server: LiveServer, document: dict[str, Any], tmp_path: Path) -> None:
    from config import loader
    from server.app import create_app

    app = create_app({"CENTER_CONFIG": loader.load("absheron"), "DATABASE": str(tmp_path / "novbe.db"),
                      "TESTING": True, "START_DEVICES": False, "VOICE_CACHE": str(tmp_path / "voice-cache")})
    try:
        documented = {(path, method.upper()) for path, ops in document["paths"].items() for method in ops}
        served = {(_flask_path(rule.rule), method) for rule in app.url_map.iter_rules()
                  for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
                  if rule.rule.startswith("/api/")}
        assert served and served <= documented, sorted(served - documented)
        # Outside /api: the citizen's status page, the boards' audio, the ticket's QR code, the kiosk's speech.
        assert {("/t/{token}", "GET"), ("/display/audio", "GET"), ("/kiosk/qr.svg", "GET"),
                ("/kiosk/speak", "GET")} <= documented
        every = {_flask_path(rule.rule) for rule in app.url_map.iter_rules()}
        assert {path for path, _ in documented} <= every, "the document lists a route the server does not have"
    finally:
        novbe = app.extensions["novbe"]
        novbe.publisher.stop()
        novbe.store.close()


@schema.parametrize()
@FUZZ
def test_fuzz_as_a_kiosk(case: Any, server: LiveServer, kiosk: requests.Session) -> None:
    case.call_and_validate(base_url=server.url, session=kiosk, checks=CHECKS, timeout=30)


@schema.exclude(path=STAFF_EXCLUDED).parametrize()
@FUZZ
def test_fuzz_as_staff(case: Any, server: LiveServer, staff: requests.Session) -> None:
    case.call_and_validate(base_url=server.url, session=staff, checks=CHECKS, timeout=30)
