"""The crisis switch over HTTP: profiles validated before they are taken, the
running flow and routes kept on a refusal, roles, audit, restarts."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from typing import Any

import pytest

from cti.config import PROJECT_ROOT
from cti.crisis.profiles import prepare
from cti.crisis.spec import DEFAULT_PROFILES, CrisisProfileSpec
from ivr.prompts import prompt_names
from tests.support.desk_app import RunningDesk, running_desk

SHIPPED = PROJECT_ROOT / "cti" / "crisis" / "files"


def crisis_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "crisis"
    shutil.copytree(SHIPPED, folder)
    broken = (folder / "emergency-flow.yaml").read_text().replace("next: general", "next: nowhere")
    (folder / "broken-flow.yaml").write_text(broken)
    (folder / "broken-routes.yaml").write_text("version: 1\nroutes: []\nfairness: fastest\n")
    (tmp_path / "outside.yaml").write_text((folder / "emergency-flow.yaml").read_text())
    return folder


def profiles() -> dict[str, CrisisProfileSpec]:
    return {
        "emergency": CrisisProfileSpec(
            flow="emergency-flow.yaml", routes="emergency-routes.yaml", announcement="crisis"
        ),
        "broken": CrisisProfileSpec(flow="broken-flow.yaml", routes="broken-routes.yaml"),
        "escape": CrisisProfileSpec(flow="../outside.yaml"),
        "silent": CrisisProfileSpec(announcement="no-such-prompt"),
    }


def desk(tmp_path: Path) -> contextlib.AbstractAsyncContextManager[RunningDesk]:
    return running_desk(tmp_path, crisis_dir=tmp_path / "crisis", crisis_profiles=profiles())


async def switch(running: RunningDesk, role: str, body: Any) -> tuple[int, dict[str, Any]]:
    token = await running.login(role)
    headers = {"Authorization": f"Bearer {token}"}
    async with running.client.post("/api/crisis", json=body, headers=headers) as r:
        return r.status, await r.json()


async def audit(running: RunningDesk, action: str) -> list[Any]:
    return await running.hotline.supervision.audit.entries(limit=10, action=action)


async def test_a_supervisor_turns_a_profile_on_and_new_calls_get_its_flow_and_routes(
    tmp_path: Path,
) -> None:
    crisis_folder(tmp_path)
    async with desk(tmp_path) as running:
        hotline = running.hotline
        normal_flow = hotline.crisis.live.current.flow
        assert hotline.router is not None
        normal_plan = hotline.router.plan
        status, state = await switch(running, "supervisor", {"profile": "emergency"})
        assert status == 200, state
        assert state["active"] and state["profile"] == "emergency" and state["by"] == "supervisor"
        active = hotline.crisis.live.current
        assert active.flow.name == "emergency" and active.announcement == "crisis"
        assert [r.name for r in hotline.router.plan.routes] == ["general"]
        (row,) = await audit(running, "crisis.switch")
        assert row.username == "supervisor" and row.target == "emergency"
        assert row.detail["flow"] == "emergency-flow.yaml"

        status, state = await switch(running, "supervisor", {"profile": None})
        assert status == 200 and not state["active"]
        assert hotline.crisis.live.current.flow is normal_flow
        assert hotline.router.plan is normal_plan
        assert len(await audit(running, "crisis.switch")) == 2


async def test_a_bad_file_is_refused_with_its_errors_and_the_running_one_is_kept(
    tmp_path: Path,
) -> None:
    crisis_folder(tmp_path)
    async with desk(tmp_path) as running:
        hotline = running.hotline
        assert (await switch(running, "supervisor", {"profile": "emergency"}))[0] == 200
        running_flow = hotline.crisis.live.current
        assert hotline.router is not None
        running_plan = hotline.router.plan
        status, body = await switch(running, "supervisor", {"profile": "broken"})
        assert status == 409 and body["error"] == "invalid_profile"
        assert (
            "broken-flow.yaml: node 'language': leads to unknown node 'nowhere'"
            in (body["problems"])
        )
        assert any(p.startswith("broken-routes.yaml: fairness:") for p in body["problems"])
        assert hotline.crisis.live.current is running_flow
        assert hotline.router.plan is running_plan
        assert hotline.crisis.state.profile == "emergency"
        (refusal,) = await audit(running, "crisis.refused")
        assert refusal.target == "broken" and len(refusal.detail["problems"]) == 2


async def test_a_missing_announcement_prompt_is_refused(tmp_path: Path) -> None:
    crisis_folder(tmp_path)
    async with desk(tmp_path) as running:
        status, body = await switch(running, "supervisor", {"profile": "silent"})
    assert status == 409
    assert body["problems"] == ["profile 'silent': announcement: missing prompt 'no-such-prompt'"]


@pytest.mark.parametrize(
    "profile",
    ["../outside", "/etc/passwd", "emergency/../../x", "EMERGENCY", "", 7, ["emergency"]],
)
async def test_a_request_naming_a_file_or_an_odd_value_is_refused(
    tmp_path: Path, profile: Any
) -> None:
    crisis_folder(tmp_path)
    async with desk(tmp_path) as running:
        status, body = await switch(running, "supervisor", {"profile": profile})
        assert status == 400 and body["error"] == "bad_request"
        assert running.hotline.crisis.state.profile is None


async def test_a_profile_whose_file_leads_out_of_the_crisis_folder_is_refused(
    tmp_path: Path,
) -> None:
    crisis_folder(tmp_path)
    (tmp_path / "crisis" / "link.yaml").symlink_to(tmp_path / "outside.yaml")
    async with desk(tmp_path) as running:
        running.hotline.crisis.profiles["linked"] = CrisisProfileSpec(flow="link.yaml")
        for name in ("escape", "linked"):
            status, body = await switch(running, "supervisor", {"profile": name})
            assert status == 409, body
            assert "crisis folder" in body["problems"][0]
        assert running.hotline.crisis.state.profile is None


async def test_an_unknown_profile_is_not_found(tmp_path: Path) -> None:
    crisis_folder(tmp_path)
    async with desk(tmp_path) as running:
        status, body = await switch(running, "supervisor", {"profile": "flood"})
    assert status == 404 and body["error"] == "unknown_profile"


@pytest.mark.parametrize("role", ["agent", "qa"])
async def test_agents_and_qa_may_neither_see_nor_switch(tmp_path: Path, role: str) -> None:
    crisis_folder(tmp_path)
    async with desk(tmp_path) as running:
        status, body = await switch(running, role, {"profile": "emergency"})
        assert status == 403 and body["error"] == "forbidden"
        token = await running.login(role)
        async with running.client.get(
            "/api/crisis", headers={"Authorization": f"Bearer {token}"}
        ) as r:
            assert r.status == 403
        assert running.hotline.crisis.state.profile is None


async def test_an_admin_may_switch_and_the_state_lists_the_profiles(tmp_path: Path) -> None:
    crisis_folder(tmp_path)
    async with desk(tmp_path) as running:
        assert (await switch(running, "admin", {"profile": "emergency"}))[0] == 200
        token = await running.login("supervisor")
        async with running.client.get(
            "/api/crisis", headers={"Authorization": f"Bearer {token}"}
        ) as r:
            state = await r.json()
    assert state["profile"] == "emergency" and state["by"] == "admin"
    assert [p["name"] for p in state["profiles"]] == ["broken", "emergency", "escape", "silent"]


async def test_the_profile_on_survives_a_restart_and_off_too(tmp_path: Path) -> None:
    crisis_folder(tmp_path)
    async with desk(tmp_path) as running:
        assert (await switch(running, "supervisor", {"profile": "emergency"}))[0] == 200
    async with desk(tmp_path) as running:
        assert running.hotline.crisis.state.profile == "emergency"
        assert running.hotline.crisis.live.current.flow.name == "emergency"
        assert (await switch(running, "supervisor", {"profile": None}))[0] == 200
    async with desk(tmp_path) as running:
        assert running.hotline.crisis.state.profile is None
        assert running.hotline.crisis.live.current.flow.name == "hotline"


async def test_a_profile_broken_while_the_service_was_down_is_not_restored(
    tmp_path: Path,
) -> None:
    folder = crisis_folder(tmp_path)
    async with desk(tmp_path) as running:
        assert (await switch(running, "supervisor", {"profile": "emergency"}))[0] == 200
    (folder / "emergency-flow.yaml").write_text("start: nowhere\n")
    async with desk(tmp_path) as running:
        assert running.hotline.crisis.state.profile is None
        assert running.hotline.crisis.live.current.flow.name == "hotline"


async def test_supervisors_get_a_crisis_frame_when_the_switch_changes(tmp_path: Path) -> None:
    crisis_folder(tmp_path)
    async with desk(tmp_path) as running:
        token = await running.login("supervisor")
        async with running.client.ws_connect(
            "/ws", headers={"Authorization": f"Bearer {token}"}
        ) as ws:
            assert (await switch(running, "supervisor", {"profile": "emergency"}))[0] == 200
            for _ in range(20):
                frame = await ws.receive_json(timeout=5)
                if frame["type"] == "crisis.state":
                    break
            assert frame["type"] == "crisis.state"
            assert frame["data"]["profile"] == "emergency"


def test_the_shipped_profiles_pass_their_validators() -> None:
    emergency = prepare("emergency", DEFAULT_PROFILES["emergency"], SHIPPED, prompt_names())
    assert emergency.flow is not None and emergency.flow.name == "emergency"
    assert emergency.plan is not None and [r.name for r in emergency.plan.routes] == ["general"]
    announcement = prepare(
        "announcement", DEFAULT_PROFILES["announcement"], SHIPPED, prompt_names()
    )
    assert announcement.flow is None and announcement.announcement == "crisis"
