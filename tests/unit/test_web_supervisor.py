"""Supervisor API: listen/whisper/barge requests, the audit log, the staffing plan.

The real core, database and web app; the AMI is the desktop tests' stub
(records actions; CoreShowChannels answers what a test puts in ``channels``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from cti import dialplan
from cti.auth import hash_password
from cti.db.models import User
from cti.domain.model import AgentState, CallDetailRecord, Disposition
from cti.staffing.forecast import history_days
from tests.support.stub_service import PASSWORD, SUPERVISOR_PASSWORD
from tests.unit import test_web_desktop
from tests.unit.test_web_desktop import Desk

desk = test_web_desktop.desk  # the desktop tests' fixture: real core, database, web app

CALL = "1800000000.7"
AGENT_CHANNEL = "PJSIP/agent1001-0000000a"


def pbx_channels(desk: Desk, channels: list[dict[str, str]]) -> None:
    async def list_action(fields: dict[str, Any], **_: Any) -> list[dict[str, str]]:
        desk.ami.actions.append({k: str(v) for k, v in fields.items()})
        return channels

    desk.ami.list_action = list_action  # type: ignore[method-assign]


async def add_users(desk: Desk) -> None:
    digest = hash_password(PASSWORD)
    await desk.hotline.repository.upsert_users(
        [
            User(username="qa1", password_hash=digest, role="qa", queues=""),
            User(username="admin1", password_hash=digest, role="admin", queues=""),
        ]
    )


def talking_call(desk: Desk) -> None:
    desk.ring(CALL, "1001")
    desk.answer(CALL, "1001")
    pbx_channels(
        desk,
        [
            {"Channel": "PJSIP/trunk-00000009", "Linkedid": CALL},
            {"Channel": "PJSIP/agent10010-0000000c", "Linkedid": CALL},  # another agent
            {"Channel": "PJSIP/agent1001-0000000b", "Linkedid": "1800000000.9"},  # other call
            {"Channel": AGENT_CHANNEL, "Linkedid": CALL},
        ],
    )


async def test_only_supervisors_and_admins_may_monitor_or_read_the_audit(desk: Desk) -> None:
    await add_users(desk)
    talking_call(desk)
    for user in ("1002", "qa1"):
        token = await desk.login(user)
        status, body = await desk.post(
            "/api/supervisor/monitor", token, {"agent": "1001", "mode": "listen"}
        )
        assert (status, body["error"]) == (403, "forbidden")
        for path in ("/api/supervisor/live", "/api/audit", "/api/staffing"):
            status, body = await desk.get(path, token)
            assert (status, body["error"]) == (403, "forbidden"), path
    assert desk.ami.named("Originate") == []
    status, body = await desk.post("/api/supervisor/monitor", "nobody", {"agent": "1001"})
    assert status == 401


@pytest.mark.parametrize(("mode", "exten"), [("listen", "listen"), ("whisper", "whisper")])
async def test_supervisor_phone_is_rung_into_chanspy_on_the_agents_channel(
    desk: Desk, mode: str, exten: str
) -> None:
    talking_call(desk)
    token = await desk.login("supervisor", SUPERVISOR_PASSWORD)
    status, live = await desk.get("/api/supervisor/live", token)
    assert status == 200
    assert [(c["agent"], c["call_id"]) for c in live["calls"]] == [("1001", CALL)]
    status, body = await desk.post(
        "/api/supervisor/monitor", token, {"agent": "1001", "mode": mode}
    )
    assert status == 200, body
    assert body == {
        "ok": True,
        "agent": "1001",
        "mode": mode,
        "call_id": CALL,
        "phone": "PJSIP/supervisor9001",
    }
    [originate] = desk.ami.named("Originate")
    assert originate["Channel"] == "PJSIP/supervisor9001"
    assert (originate["Context"], originate["Exten"], originate["Priority"]) == (
        "hotline-spy",
        exten,
        "1",
    )
    assert originate["Variable"] == f"{dialplan.SPY_TARGET}={AGENT_CHANNEL}"
    status, audit = await desk.get("/api/audit", token)
    assert status == 200
    [entry] = audit["entries"]
    assert (entry["username"], entry["role"], entry["action"], entry["target"]) == (
        "supervisor",
        "supervisor",
        "supervisor.monitor",
        "1001",
    )
    assert entry["detail"] == {
        "mode": mode,
        "call_id": CALL,
        "agent_channel": AGENT_CHANNEL,
        "supervisor_phone": "PJSIP/supervisor9001",
    }


async def test_monitor_requests_that_cannot_be_carried_out_are_refused(desk: Desk) -> None:
    await add_users(desk)
    token = await desk.login("supervisor", SUPERVISOR_PASSWORD)
    cases = [
        ({"agent": "1001", "mode": "listen"}, 409, "agent_not_talking"),
        ({"agent": "9999", "mode": "listen"}, 404, "no_such_agent"),
        ({"agent": "1001", "mode": "spy,qB"}, 400, "bad_mode"),
        ({"agent": "1001"}, 400, "bad_mode"),
        ({"agent": ["1001"], "mode": "listen"}, 400, "bad_request"),
    ]
    for body, status, code in cases:
        got_status, got = await desk.post("/api/supervisor/monitor", token, body)
        assert (got_status, got["error"]) == (status, code), body
    talking_call(desk)
    pbx_channels(desk, [{"Channel": "PJSIP/agent1001-0000000b", "Linkedid": "other"}])
    status, got = await desk.post(
        "/api/supervisor/monitor", token, {"agent": "1001", "mode": "barge"}
    )
    assert (status, got["error"]) == (409, "no_agent_channel")
    admin = await desk.login("admin1")  # an admin without a phone
    talking_call(desk)
    status, got = await desk.post(
        "/api/supervisor/monitor", admin, {"agent": "1001", "mode": "barge"}
    )
    assert (status, got["error"]) == (409, "no_phone")
    assert desk.ami.named("Originate") == []
    status, audit = await desk.get("/api/audit", token)
    assert audit["entries"] == []  # nothing was attempted on the PBX


async def test_a_pbx_refusal_is_reported_and_audited(desk: Desk) -> None:
    talking_call(desk)
    desk.ami.refuse = "Originate failed"
    token = await desk.login("supervisor", SUPERVISOR_PASSWORD)
    status, got = await desk.post(
        "/api/supervisor/monitor", token, {"agent": "1001", "mode": "barge"}
    )
    assert (status, got["error"]) == (502, "pbx_error")
    status, audit = await desk.get("/api/audit", token)
    actions = [e["action"] for e in audit["entries"]]
    assert actions == ["supervisor.monitor.failed", "supervisor.monitor"]
    assert audit["entries"][0]["detail"]["mode"] == "barge"
    status, only = await desk.get("/api/audit?action=supervisor.monitor&limit=5", token)
    assert [e["action"] for e in only["entries"]] == ["supervisor.monitor"]
    assert (await desk.get("/api/audit?limit=-1", token))[0] == 400


async def test_audit_log_appends_and_pages_back(desk: Desk) -> None:
    log = desk.hotline.supervision.audit
    ids = [
        await log.append("admin1", "admin", "user.update", f"100{i}", {"n": i}, at=1e9 + i)
        for i in range(5)
    ]
    newest = await log.entries(limit=2)
    assert [e.id for e in newest] == ids[:-3:-1]
    older = await log.entries(limit=10, before_id=newest[-1].id)
    assert [e.detail["n"] for e in older] == [2, 1, 0]
    assert older[0].at == pytest.approx(1e9 + 2)
    with pytest.raises(ValueError):
        await log.append("admin1", "admin", "x", "", {"big": "x" * 5000})
    assert len(await log.entries()) == 5


def cdr(call_id: str, queued_at: float, answered: bool, talk_s: float) -> CallDetailRecord:
    return CallDetailRecord(
        call_id=call_id,
        caller_number="15550100001",
        caller_name="",
        ivr_path="menu=1",
        queue="billing",
        agent_id="1001" if answered else None,
        entered_at=queued_at - 10,
        queued_at=queued_at,
        answered_at=queued_at + 5 if answered else None,
        ended_at=queued_at + 5 + talk_s,
        wait_s=5.0 if answered else 40.0,
        talk_s=talk_s if answered else 0.0,
        disposition=Disposition.ANSWERED if answered else Disposition.ABANDONED,
        recording_path=None,
    )


async def test_staffing_api_forecasts_from_stored_cdrs_beside_agents_now(desk: Desk) -> None:
    desk.hotline.settings.staffing_timezone = "UTC"
    day = date(2026, 12, 11)
    records = []
    for week, past in enumerate(history_days(day, 2)):
        nine = datetime(past.year, past.month, past.day, 9, tzinfo=UTC).timestamp()
        for i in range(30 + 10 * week):
            records.append((cdr(f"w{week}-{i}", nine + 60 * i, i % 10 != 0, 200.0), None))
    await desk.hotline.repository.save_cdrs(records)
    await desk.login("1001")  # logged in, paused
    token = await desk.login("supervisor", SUPERVISOR_PASSWORD)
    status, plan = await desk.get(f"/api/staffing?date={day}&weeks=2&interval=60", token)
    assert status == 200, plan
    assert plan["history_days"] == [str(day - timedelta(days=7)), str(day - timedelta(days=14))]
    [billing] = plan["queues"]
    nine = billing["intervals"][9]
    assert nine["start"] == "09:00"
    assert nine["calls"] == pytest.approx(35)
    assert nine["handle_s"] == pytest.approx(200)
    assert nine["agents_c"] >= 3 and nine["sl_c"] >= 0.8
    assert nine["agents_a"] is not None and nine["agents_a"] <= nine["agents_c"]
    assert billing["patience_s"] is not None
    assert billing["staff_now"] == {"logged_in": 1, "ready": 0, "talking": 0}
    for query in ("interval=20", "weeks=0", "date=2026-13-01", "weighting=median"):
        status, body = await desk.get(f"/api/staffing?{query}", token)
        assert (status, body["error"]) == (400, "bad_request"), query


async def test_staffing_page_is_served(desk: Desk) -> None:
    async with desk.client.get("/staffing") as r:
        assert r.status == 200
        text = await r.text()
    assert "/static/staffing.js" in text


async def test_a_login_for_supervisor_pages_refuses_an_agent_before_it_joins_its_queues(
    desk: Desk,
) -> None:
    roles = {"roles": ["supervisor", "admin"]}
    async with desk.client.post(
        "/api/login", json={"username": "1002", "password": PASSWORD, **roles}
    ) as r:
        assert (r.status, (await r.json())["error"]) == (403, "forbidden")
        assert "Set-Cookie" not in r.headers
    assert desk.hotline.core.agents["1002"].state is AgentState.LOGGED_OUT
    await desk.hotline.drain()
    assert desk.ami.named("QueueAdd") == []
    async with desk.client.post(
        "/api/login", json={"username": "1002", "password": PASSWORD, "roles": "agent"}
    ) as r:
        assert r.status == 400
    async with desk.client.post(
        "/api/login", json={"username": "supervisor", "password": SUPERVISOR_PASSWORD, **roles}
    ) as r:
        assert r.status == 200
        assert (await r.json())["role"] == "supervisor"
