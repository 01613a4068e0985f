"""The rating and report routes through Flask's test client, and `novbe report / rollup / purge`:
the contract of docs/api.md, every refusal, and export files read back and compared with the JSON."""
from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner

from conftest import mini_config
from server import auth, reports
from server.app import create_app
from server.cli import main

REASONS = {"reasons": [{"code": "long-wait", "name": {"az": "Çox gözlədim", "ru": "Долго", "en": "Long wait"}}]}
DAY = "2026-11-24"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def app(tmp_path, clock):
    app = create_app({"TESTING": True, "DATABASE": str(tmp_path / "api.db"), "CENTER_CONFIG": mini_config(ratings=REASONS),
                      "CLOCK": clock, "START_DEVICES": False, "PUBLIC_URL": "http://novbe.local"})
    store = app.extensions["novbe"].store
    for name, role in (("op1", "operator"), ("boss", "supervisor")):
        auth.add_user(store, name, f"{name}-password", role)
    app.config["KIOSK"] = {"Authorization": f"Bearer {auth.add_device(store, 'kiosk', 'kiosk-1')}"}
    app.config["SCREEN1"] = {"Authorization": f"Bearer {auth.add_device(store, 'rating', 'counter-1')}"}
    app.config["SCREEN2"] = {"Authorization": f"Bearer {auth.add_device(store, 'rating', 'counter-2')}"}
    yield app
    novbe = app.extensions["novbe"]
    novbe.publisher.stop()
    novbe.store.close()


@pytest.fixture
def client(app):
    return app.test_client()


def login(client, name):
    r = client.post("/api/login", json={"username": name, "password": f"{name}-password"})
    assert r.status_code == 200, r.json
    return {"X-CSRFToken": r.json["csrf_token"]}


def serve(app, client, service="EMP-1", counter=1):
    """Issue a ticket and serve it at ``counter``; its status token."""
    r = client.post("/api/tickets", json={"service": service}, headers=app.config["KIOSK"])
    assert r.status_code == 201, r.json
    token = r.json["token"]
    h = login(client, "boss")
    for verb in ("open", "call-next", "start", "finish"):
        assert client.post(f"/api/counters/{counter}/{verb}", headers=h, json={} if verb == "finish" else None).status_code == 200
    return token


def test_rating_from_the_status_page(app, client, clock):
    r = client.post("/api/tickets", json={"service": "EMP-1"}, headers=app.config["KIOSK"])
    token = r.json["token"]
    state = client.get(f"/api/status/{token}/rating").json
    assert (state["rated"], state["can_rate"], state["status"]) == (False, False, "waiting")
    assert state["reasons"] == [{"code": "long-wait", "name": {"az": "Çox gözlədim", "ru": "Долго", "en": "Long wait"}}]
    r = client.post(f"/api/status/{token}/rating", json={"score": 5})
    assert r.status_code == 409 and r.json["error"] == "not_finished" and r.json["ok"] is False
    h = login(client, "boss")
    for verb in ("open", "call-next", "finish"):
        assert client.post(f"/api/counters/1/{verb}", headers=h, json={} if verb == "finish" else None).status_code == 200
    assert client.get(f"/api/status/{token}/rating").json["can_rate"] is True
    for bad in ({"score": 0}, {"score": 6}, {"score": "5"}, {"score": 3, "reason": "rude"}, {"score": 3, "extra": 1},
                {"score": 3, "comment": "x" * 501}, {}):
        r = client.post(f"/api/status/{token}/rating", json=bad)
        assert r.status_code == 400 and r.json["error"] == "invalid_request", bad
    r = client.post(f"/api/status/{token}/rating", json={"score": 2, "reason": "long-wait", "comment": "Növbə uzun idi"})
    assert r.status_code == 201 and r.json["ok"] is True and r.json["score"] == 2 and r.json["satisfied"] is False
    assert r.json["seq"] > 0
    r = client.post(f"/api/status/{token}/rating", json={"score": 5})
    assert r.status_code == 409 and r.json["error"] == "already_rated"
    assert client.get(f"/api/status/{token}/rating").json["rated"] is True
    assert client.post("/api/status/nope-nope-nope/rating", json={"score": 5}).status_code == 404
    # the audit shows the rating happened (never its score)
    events = client.get("/api/audit", headers=h).json["events"]
    assert any(e["event"] == "ticket-rated" for e in events)


def test_rating_screen_routes(app, client, clock):
    s1, s2 = app.config["SCREEN1"], app.config["SCREEN2"]
    assert client.get("/api/rate/1").status_code == 401
    assert client.get("/api/rate/1", headers=app.config["KIOSK"]).status_code == 401    # a kiosk is not a screen
    assert client.get("/api/rate/1", headers=s2).status_code == 403                     # counter 2's screen
    assert client.get("/api/rate/99", headers=s1).status_code == 404
    body = client.get("/api/rate/1", headers=s1).json
    assert body["question"] is None and body["reasons"][0]["code"] == "long-wait"
    assert client.post("/api/rate/1", json={"score": 5}, headers=s1).json["error"] == "nothing_to_rate"
    serve(app, client)
    q = client.get("/api/rate/1", headers=s1).json["question"]
    assert q["number"] == "A-001" and q["service_name"]["en"] == "Unemployment registration"
    assert q["until"] - q["finished_at"] == 90
    assert client.post("/api/rate/1", json={"score": 5, "comment": "x"}, headers=s1).status_code == 400   # no text here
    assert client.post("/api/rate/2", json={"score": 5}, headers=s1).status_code == 403
    assert client.post("/api/rate/1", json={"score": 5, "ticket": q["ticket"] + 1}, headers=s1).json["error"] == "nothing_to_rate"
    r = client.post("/api/rate/1", json={"score": 4, "ticket": q["ticket"]}, headers=s1)
    assert r.status_code == 201 and r.json["satisfied"] is True
    assert client.post("/api/rate/1", json={"score": 4}, headers=s1).json["error"] == "already_rated"
    assert client.get("/api/rate/1", headers=s1).json["question"] is None
    serve(app, client)
    clock.advance(91)
    assert client.get("/api/rate/1", headers=s1).json["question"] is None


def test_reports_need_a_supervisor(app, client):
    assert client.get("/api/reports").status_code == 401
    login(client, "op1")
    r = client.get("/api/reports")
    assert r.status_code == 403 and r.json["error"] == "forbidden"
    client.post("/api/logout", headers=login(client, "op1"))
    login(client, "boss")
    assert client.get("/api/reports").status_code == 200


@pytest.mark.parametrize("query", ["from=2026-13-01", "from=yesterday", f"from={DAY}&to=2026-11-01", "by=weekday",
                                   "format=pdf", "lang=de", "from=2020-01-01&to=2026-01-01", "from=%00"])
def test_report_bad_queries_are_400(app, client, query):
    login(client, "boss")
    r = client.get("/api/reports?" + query)
    assert r.status_code == 400 and r.json["error"] == "invalid_request", r.json


def test_report_contract_and_files(app, client, clock):
    token = serve(app, client)
    client.post(f"/api/status/{token}/rating", json={"score": 5})
    for _ in range(5):
        client.post("/api/tickets", json={"service": "EMP-2"}, headers=app.config["KIOSK"])
    assert client.post("/api/tickets", json={"service": "EMP-2"}, headers=app.config["KIOSK"]).status_code == 409
    login(client, "boss")
    body = client.get(f"/api/reports?from={DAY}&to={DAY}&by=service").json
    assert body["ok"] is True and body["by"] == "service" and (body["from"], body["to"]) == (DAY, DAY)
    keys = {"key", "issued", "served", "no_show", "cancelled", "transferred", "refused", "wait_mean", "wait_p50",
            "wait_p90", "wait_max", "service_p50", "service_p90", "within_target", "ratings", "satisfied_share"}
    for row in [*body["rows"], body["total"]]:
        assert keys <= set(row)
    total = body["total"]
    assert (total["issued"], total["served"], total["refused"], total["ratings"], total["satisfied_share"]) == (6, 1, 1, 1, 1.0)
    assert body["refused_by"] == {"service": 1}
    for by in reports.GROUPINGS:
        r = client.get(f"/api/reports?from={DAY}&to={DAY}&by={by}")
        assert r.status_code == 200 and r.json["total"] == total, by
        # CSV: the same table, names in the chosen language, the total last
        c = client.get(f"/api/reports?from={DAY}&to={DAY}&by={by}&format=csv&lang=ru")
        assert c.status_code == 200 and c.mimetype == "text/csv"
        assert f'novbe-test-by-{by}-{DAY}-{DAY}.csv' in c.headers["Content-Disposition"]
        table = list(csv.reader(io.StringIO(c.data.decode("utf-8-sig"))))
        assert table[0] == ["key", "name", *reports.FIGURES]
        assert len(table) == len(r.json["rows"]) + 2 and table[-1][0] == "total"
        assert c.headers["Content-Type"] == "text/csv; charset=utf-8"        # once (it said charset twice)
        assert table[-1][1] == "Итого"                                       # named, in ru
        assert all(line[1] for line in table[1:-1] if not line[0])           # so is a row without a key
        for line, row in zip(table[1:], r.json["rows"]):
            assert line[0] == ("" if row["key"] is None else str(row["key"]))
            assert line[2:] == ["" if row[f] is None else str(row[f]) for f in reports.FIGURES]
        # XLSX opened back with openpyxl: the same numbers as the JSON
        x = client.get(f"/api/reports?from={DAY}&to={DAY}&by={by}&format=xlsx")
        assert x.status_code == 200 and x.mimetype == XLSX
        sheet = reports.read_xlsx(x.data)
        assert sheet[0] == ["key", "name", *reports.FIGURES]
        for line, row in zip(sheet[1:], [*r.json["rows"], {**total, "key": "total"}]):
            assert line[0] == ("" if row["key"] is None else row["key"]) or str(line[0]) == str(row["key"])
            assert line[2:] == [row[f] for f in reports.FIGURES]
    svc = {r["key"]: r for r in body["rows"]}
    assert svc["EMP-1"]["name"]["az"] == "İşsiz kimi qeydiyyat" and svc["EMP-2"]["refused"] == 1
    heat = client.get(f"/api/reports/arrivals?from={DAY}&to={DAY}").json
    assert heat["grid"][1][10] == 6 and heat["days"] == 1
    grid = list(csv.reader(io.StringIO(client.get(f"/api/reports/arrivals?from={DAY}&format=csv").data.decode("utf-8-sig"))))
    assert grid[2][0] == "tue" and grid[2][11] == "6"


def test_openapi_documents_the_files(client):
    doc = client.get("/api/openapi.json").json
    ok = doc["paths"]["/api/reports"]["get"]["responses"]["200"]["content"]
    assert set(ok) == {"application/json", "text/csv", XLSX}
    assert doc["paths"]["/api/status/{token}/rating"]["post"]["responses"]["409"]
    assert doc["paths"]["/api/rate/{counter}"]["post"]["security"] == [{"device": []}]


def test_cli_report_rollup_purge(app, client, tmp_path, clock, monkeypatch):
    from server import report_cli

    token = serve(app, client)
    client.post(f"/api/status/{token}/rating", json={"score": 4, "comment": "Yaxşı"})
    runner = CliRunner()

    def run(*args):
        return runner.invoke(main, list(args), catch_exceptions=False)

    store = app.extensions["novbe"].store
    body = reports.report(store, DAY, DAY, "service")
    # The commands open the store as server.cli does; here, the test's store with its hand-moved clock.
    monkeypatch.setattr(report_cli, "_open", lambda config, db: store)
    r = run("report", "--from", DAY, "--to", DAY, "--format", "json")
    assert r.exit_code == 0 and json.loads(r.output) == json.loads(json.dumps(body))
    r = run("report", "--from", DAY, "--to", DAY, "--by", "counter")
    assert r.exit_code == 0 and "satisfied" in r.output and "100.0%" in r.output
    out = tmp_path / "m.xlsx"
    r = run("report", "--from", DAY, "--to", DAY, "--format", "xlsx", "--out", str(out))
    assert r.exit_code == 0 and reports.read_xlsx(out.read_bytes())[0][0] == "key"
    assert run("report", "--format", "xlsx").exit_code != 0                       # needs --out
    assert run("report", "--from", "2026-02-30").exit_code != 0
    clock.advance(86400)
    r = run("rollup")
    assert r.exit_code == 0 and f"rolled up 1 day(s) ({DAY} – {DAY})" in r.output
    assert reports.report(store, DAY, DAY, "service") == body
    clock.advance(100 * 86400)
    r = run("purge")
    assert r.exit_code == 0 and "removed 1 rating comment(s)" in r.output and "1 status link(s)" in r.output


def test_cli_report_on_a_database_file(tmp_path):
    db = str(tmp_path / "cli.db")
    r = CliRunner().invoke(main, ["report", "--db", db, "--format", "json", "--from", DAY, "--to", DAY, "--by", "day"])
    assert r.exit_code == 0, r.output
    body = json.loads(r.output)
    assert body["rows"] == [] and body["total"]["issued"] == 0
    r = CliRunner().invoke(main, ["rollup", "--db", db, "--from", "26-1-1"])
    assert r.exit_code != 0 and "YYYY-MM-DD" in r.output
