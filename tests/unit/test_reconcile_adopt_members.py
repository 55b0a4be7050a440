"""A CTI that restarts (after a crash) takes Asterisk's queue members as its
logged-in agents on its first sync; on a later resync the CTI stays the truth."""

from __future__ import annotations

from cti.domain import effects as fx
from cti.domain.callcenter import CallCenter, PbxChannel, PbxSnapshot
from cti.domain.model import AgentState
from cti.domain.reconcile import PbxMember


def core() -> CallCenter:
    center = CallCenter(["billing", "general"])
    for agent in ("1001", "1002", "1003"):
        center.register_agent(agent, f"PJSIP/agent{agent}", ["billing", "general"])
    return center


def snapshot() -> PbxSnapshot:
    members = (
        PbxMember("billing", "1001", "PJSIP/agent1001", False),
        PbxMember("general", "1001", "PJSIP/agent1001", False),
        PbxMember("billing", "1002", "PJSIP/agent1002", True, "lunch"),
        PbxMember("general", "1002", "PJSIP/agent1002", True, "lunch"),
        PbxMember("billing", "1003", "PJSIP/agent1003", False),
        PbxMember("general", "1003", "PJSIP/agent1003", False),
    )
    talking = PbxChannel(
        "1.1", "PJSIP/trunk-1", "15550100001", "", 0.0, queue=None, agent_id="1003"
    )
    return PbxSnapshot(calls=(talking,), members=members, queues=("billing", "general"))


def test_first_sync_after_a_restart_adopts_asterisks_members_as_logged_in_agents() -> None:
    center = core()
    effects = center.reconcile(snapshot(), 10.0, adopt_members=True)
    agents = center.agents
    assert agents["1001"].state is AgentState.READY
    assert (agents["1002"].state, agents["1002"].pause_reason) == (AgentState.PAUSED, "lunch")
    assert (agents["1003"].state, agents["1003"].call_id) == (AgentState.TALKING, "1.1")
    # nobody is removed from Asterisk's queues, nobody re-paused
    assert not [e for e in effects if isinstance(e, fx.RemoveQueueMember | fx.PauseQueueMember)]


def test_a_later_resync_removes_members_of_agents_the_cti_knows_are_logged_out() -> None:
    center = core()
    effects = center.reconcile(snapshot(), 10.0)
    assert all(a.state is AgentState.LOGGED_OUT for a in center.agents.values())
    removed = {(e.queue, e.interface) for e in effects if isinstance(e, fx.RemoveQueueMember)}
    assert ("billing", "PJSIP/agent1001") in removed and len(removed) == 6
