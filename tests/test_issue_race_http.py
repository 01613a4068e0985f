"""Kiosks racing over HTTP for a service's last tickets: served together, none lost, none too many."""
from __future__ import annotations

import re
import threading
from pathlib import Path

import requests

from config import loader


def test_32_kiosk_requests_race_for_the_last_8_tickets_of_a_service(tmp_path: Path):
    from live import LiveServer

    cfg = loader.load("fuzuli")
    svc = next(s for s in cfg.services if s.quota == 8)
    server = LiveServer(tmp_path, center="fuzuli").start()
    try:
        token = server.kiosk_token(cfg.kiosks[0].name)
        answers: list[tuple[int, dict]] = []
        start = threading.Barrier(16)

        def kiosk() -> None:
            with requests.Session() as http:
                start.wait()
                for _ in range(2):
                    r = http.post(server.url + "/api/tickets", json={"service": svc.code, "lang": "az"},
                                  headers={"Authorization": f"Bearer {token}"}, timeout=10)
                    answers.append((r.status_code, r.json()))

        threads = [threading.Thread(target=kiosk) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(answers) == 32
        issued = [body for status, body in answers if status == 201]
        refused = [body for status, body in answers if status != 201]
        assert len(issued) == 8
        assert sorted(b["number"] for b in issued) == [f"{svc.letter}-{i:03d}" for i in range(1, 9)]
        assert {(b["error"], b["scope"]) for b in refused} == {("capacity_reached", "service")}
        for b in issued:                                  # each was told its own place, and it is there
            assert re.fullmatch(r"[\w-]+", b["token"])
            status = requests.get(server.url + "/api/status/" + b["token"], timeout=5).json()
            assert status["number"] == b["number"] and status["status"] == "waiting"
        assert sorted(b["ahead"] for b in issued) == sorted({b["ahead"] for b in issued})   # no two told the same place
    finally:
        server.stop()
