"""The pure core: agent commands, the queued-call path, resync."""

from __future__ import annotations

import pytest

from cti.domain import effects as fx
from cti.domain import events as ev
from cti.domain.callcenter import (
    AgentCommandRefused,
    CallCenter,
    PbxChannel,
    PbxMember,
    PbxSnapshot,
)
from cti.domain.core_state import CoreState
from cti.domain.model import AgentState, CallState, Disposition


def center(wrap_up_s: float = 0.0) -> CallCenter:
    cc = CallCenter(["general", "billing"])
    cc.register_agent("1001", "PJSIP/agent1001", ["general", "billing"], wrap_up_s)
    cc.register_agent("1002", "PJSIP/agent1002", ["general"], wrap_up_s)
    return cc


def of(kind: type, effects: list[fx.Effect]) -> list:
    return [e for e in effects if isinstance(e, kind)]


def test_login_adds_paused_members_then_ready_unpauses() -> None:
    cc = center()
    effects = cc.login("1001", at=10.0)
    adds = of(fx.AddQueueMember, effects)
    assert {(a.queue, a.paused) for a in adds} == {("general", True), ("billing", True)}
    assert cc.agents["1001"].state is AgentState.PAUSED
    effects = cc.ready("1001", at=11.0)
    assert of(fx.PauseQueueMember, effects) == [fx.PauseQueueMember("PJSIP/agent1001", False, "")]
    assert cc.agents["1001"].state is AgentState.READY


def test_commands_refused_in_wrong_state() -> None:
    cc = center()
    with pytest.raises(AgentCommandRefused):
        cc.ready("1001", at=1.0)  # logged out
    with pytest.raises(AgentCommandRefused, match="unknown agent"):
        cc.login("9999", at=1.0)


def full_call(cc: CallCenter) -> list[fx.Effect]:
    out: list[fx.Effect] = []
    out += cc.apply(ev.CallStarted("c1", "PJSIP/trunk-1", "13800138000", "张伟", 100.0))
    out += cc.apply(ev.IvrPathUpdated("c1", "menu=1"))
    out += cc.apply(ev.RecordingStarted("c1", "/rec/c1.wav"))
    out += cc.apply(ev.CallQueued("c1", "billing", 1, 105.0))
    out += cc.apply(ev.AgentRang("c1", "1001", "billing", 106.0))
    out += cc.apply(ev.CallAnswered("c1", "1001", "billing", 108.0))
    out += cc.apply(ev.AgentCallCompleted("c1", "1001", 130.0))
    out += cc.apply(ev.CallEnded("c1", 130.5, "Normal Clearing"))
    return out


def test_queued_call_pops_screen_and_writes_one_cdr() -> None:
    cc = center()
    cc.login("1001", 0.0)
    cc.ready("1001", 1.0)
    effects = full_call(cc)
    pops = of(fx.PublishScreenPop, effects)
    assert len(pops) == 1
    assert pops[0].agent_id == "1001"
    assert pops[0].call.caller_number == "13800138000"
    assert pops[0].call.ivr_path == "menu=1"
    assert pops[0].call.waited_s == pytest.approx(1.0)
    cdrs = of(fx.StoreCdr, effects)
    assert len(cdrs) == 1
    cdr = cdrs[0].cdr
    assert (cdr.queue, cdr.agent_id, cdr.ivr_path) == ("billing", "1001", "menu=1")
    assert cdr.wait_s == pytest.approx(3.0)
    assert cdr.talk_s == pytest.approx(22.5)
    assert cdr.disposition is Disposition.ANSWERED
    assert cdr.recording_path == "/rec/c1.wav"
    assert cc.agents["1001"].state is AgentState.READY
    assert cc.calls == {}
    assert cc.waiting_in("billing") == []


def test_wrap_up_pauses_member_until_timer() -> None:
    cc = center(wrap_up_s=15.0)
    cc.login("1001", 0.0)
    cc.ready("1001", 1.0)
    effects = full_call(cc)
    assert cc.agents["1001"].state is AgentState.WRAP_UP
    (timer,) = of(fx.ScheduleWrapUpEnd, effects)
    assert timer.at == pytest.approx(145.0)
    assert cc.end_wrap_up("1001", at=140.0) == []  # too early: ignored
    assert of(fx.PauseQueueMember, cc.end_wrap_up("1001", at=145.0))[0].paused is False
    assert cc.agents["1001"].state is AgentState.READY


def test_abandoned_call_cdr() -> None:
    cc = center()
    cc.apply(ev.CallStarted("c2", "PJSIP/trunk-2", "15550100001", "", 0.0))
    cc.apply(ev.CallQueued("c2", "general", 1, 2.0))
    cc.apply(ev.CallAbandoned("c2", "general", 9.0))
    (store,) = of(fx.StoreCdr, cc.apply(ev.CallEnded("c2", 9.0, "")))
    assert store.cdr.disposition is Disposition.ABANDONED
    assert store.cdr.wait_s == pytest.approx(7.0)
    assert store.cdr.talk_s == 0.0


def test_ring_no_answer_returns_agent_to_ready_and_call_to_queue() -> None:
    cc = center()
    cc.login("1002", 0.0)
    cc.ready("1002", 0.0)
    cc.apply(ev.CallStarted("c3", "PJSIP/trunk-3", "1", "", 0.0))
    cc.apply(ev.CallQueued("c3", "general", 1, 1.0))
    cc.apply(ev.AgentRang("c3", "1002", "general", 2.0))
    assert cc.agents["1002"].state is AgentState.RINGING
    cc.apply(ev.AgentRingStopped("c3", "1002", 17.0))
    assert cc.agents["1002"].state is AgentState.READY
    assert cc.calls["c3"].state is CallState.QUEUED


def test_caller_hangs_up_while_agent_rings() -> None:
    cc = center()
    cc.login("1002", 0.0)
    cc.ready("1002", 0.0)
    cc.apply(ev.CallStarted("c4", "PJSIP/trunk-4", "1", "", 0.0))
    cc.apply(ev.CallQueued("c4", "general", 1, 1.0))
    cc.apply(ev.AgentRang("c4", "1002", "general", 2.0))
    cc.apply(ev.CallEnded("c4", 3.0, ""))
    assert cc.agents["1002"].state is AgentState.READY
    assert cc.agents["1002"].call_id is None


def test_reconcile_readds_missing_members_and_removes_strays() -> None:
    cc = center()
    cc.login("1001", 0.0)
    cc.ready("1001", 0.0)
    snapshot = PbxSnapshot(
        calls=(),
        members=(
            PbxMember("general", "1001", "PJSIP/agent1001", True),  # wrong pause
            PbxMember("general", "1002", "PJSIP/agent1002", False),  # 1002 is logged out
        ),
        queues=("general", "billing"),
    )
    effects = cc.reconcile(snapshot, at=50.0)
    assert of(fx.AddQueueMember, effects) == [
        fx.AddQueueMember("billing", "1001", "PJSIP/agent1001", False, "")
    ]
    assert of(fx.RemoveQueueMember, effects) == [fx.RemoveQueueMember("general", "PJSIP/agent1002")]
    assert of(fx.PauseQueueMember, effects) == [fx.PauseQueueMember("PJSIP/agent1001", False, "")]


def test_reconcile_closes_vanished_calls_and_adopts_live_ones() -> None:
    cc = center()
    cc.login("1001", 0.0)
    cc.ready("1001", 0.0)
    cc.apply(ev.CallStarted("gone", "PJSIP/trunk-5", "1", "", 0.0))
    snapshot = PbxSnapshot(
        calls=(
            PbxChannel("live", "PJSIP/trunk-6", "2", "", 40.0, queue="general"),
            PbxChannel("talk", "PJSIP/trunk-7", "3", "", 30.0, agent_id="1001"),
        ),
        members=(
            PbxMember("general", "1001", "PJSIP/agent1001", False),
            PbxMember("billing", "1001", "PJSIP/agent1001", False),
        ),
        queues=("general", "billing"),
    )
    effects = cc.reconcile(snapshot, at=50.0)
    (lost,) = of(fx.StoreCdr, effects)
    assert (lost.cdr.call_id, lost.cdr.disposition) == ("gone", Disposition.LOST)
    assert set(cc.calls) == {"live", "talk"}
    assert cc.waiting_in("general") == ["live"]
    assert cc.agents["1001"].state is AgentState.TALKING
    assert of(fx.AddQueueMember, effects) == []


def test_verified_identity_reaches_the_pop_and_the_cdr() -> None:
    cc = center()
    cc.login("1001", 0.0)
    cc.ready("1001", 0.0)
    cc.apply(ev.CallStarted("v", "PJSIP/trunk-9", "1", "", 0.0))
    cc.apply(ev.IdentityChecked("v", True))
    cc.apply(ev.CallQueued("v", "account", 1, 1.0))
    (pop,) = of(fx.PublishScreenPop, cc.apply(ev.AgentRang("v", "1001", "account", 2.0)))
    assert pop.call.verified
    (store,) = of(fx.StoreCdr, cc.apply(ev.CallEnded("v", 3.0, "")))
    assert store.cdr.verified


def test_survey_score_reaches_the_cdr_and_talk_time_stops_when_the_agent_leaves() -> None:
    cc = center()
    cc.login("1001", 0.0)
    cc.ready("1001", 0.0)
    cc.apply(ev.CallStarted("s", "PJSIP/trunk-10", "1", "", 0.0))
    cc.apply(ev.CallQueued("s", "billing", 1, 1.0))
    cc.apply(ev.AgentRang("s", "1001", "billing", 2.0))
    cc.apply(ev.CallAnswered("s", "1001", "billing", 3.0))
    cc.apply(ev.AgentCallCompleted("s", "1001", 13.0))  # the agent hung up first
    assert cc.agents["1001"].state is AgentState.READY
    cc.apply(ev.SurveyStarted("s", 13.1))
    cc.apply(ev.SurveyAnswered("s", 5))
    (store,) = of(fx.StoreCdr, cc.apply(ev.CallEnded("s", 25.0, "")))
    assert store.cdr.survey_score == 5
    assert store.cdr.talk_s == pytest.approx(10.1)  # not the 12 s of survey after it
    assert store.cdr.disposition is Disposition.ANSWERED


def test_voicemail_and_ivr_transfer_dispositions() -> None:
    cc = center()
    path = "/var/spool/asterisk/monitor/hotline/voicemail/vm.wav"
    cc.apply(ev.CallStarted("vm", "PJSIP/trunk-11", "1", "", 0.0))
    cc.apply(ev.IvrPathUpdated("vm", "closed>voicemail"))
    cc.apply(ev.VoicemailRecorded("vm", path))
    (store,) = of(fx.StoreCdr, cc.apply(ev.CallEnded("vm", 30.0, "")))
    assert store.cdr.disposition is Disposition.VOICEMAIL
    assert store.cdr.voicemail_path == path
    assert store.cdr.survey_score is None and store.cdr.recording_path is None
    cc.apply(ev.CallStarted("tr", "PJSIP/trunk-12", "1", "", 0.0))
    cc.apply(ev.IvrTransferred("tr", "1003"))
    (store,) = of(fx.StoreCdr, cc.apply(ev.CallEnded("tr", 30.0, "")))
    assert store.cdr.disposition is Disposition.TRANSFERRED
    assert store.cdr.voicemail_path is None


def test_survey_started_without_an_answer_changes_nothing() -> None:
    cc = center()
    cc.apply(ev.CallStarted("n", "PJSIP/trunk-13", "1", "", 0.0))
    cc.apply(ev.SurveyStarted("n", 5.0))
    (store,) = of(fx.StoreCdr, cc.apply(ev.CallEnded("n", 9.0, "")))
    assert store.cdr.talk_s == 0.0 and store.cdr.disposition is Disposition.IVR_ONLY


def test_every_part_the_aggregate_is_made_of_is_there() -> None:
    """The parts call each other through methods declared on CoreState; each is defined."""
    declared = {
        name: member
        for name, member in vars(CoreState).items()
        if callable(member) and member.__code__.co_names == ("NotImplementedError",)
    }
    assert {"_call_ended", "_place_callback", "_routing_effects"} <= set(declared)
    assert [name for name, stub in declared.items() if getattr(CallCenter, name) is stub] == []
