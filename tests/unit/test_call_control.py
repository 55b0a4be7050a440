"""An agent's call actions in the core: who may hang up, transfer or give a disposition."""

from __future__ import annotations

import pytest

from cti.domain import effects as fx
from cti.domain import events as ev
from cti.domain.call_control import CallActionRefused, RefusalCode, Transfer, TransferKind
from cti.domain.callcenter import CallCenter
from cti.domain.model import AgentState


def talking(call_id: str = "c1", agent: str = "1001") -> CallCenter:
    """1001 talks with the caller of ``call_id``; 1002 is ready; 1003 is logged out."""
    cc = CallCenter(["general", "billing"])
    for agent_id in ("1001", "1002", "1003"):
        cc.register_agent(agent_id, f"PJSIP/agent{agent_id}", ["general", "billing"])
    for agent_id in ("1001", "1002"):
        cc.login(agent_id, 1.0)
        cc.ready(agent_id, 2.0)
    for event in (
        ev.CallStarted(call_id, f"PJSIP/trunk-{call_id}", "15550100001", "", 10.0),
        ev.CallQueued(call_id, "billing", 1, 11.0),
        ev.AgentRang(call_id, agent, "billing", 12.0),
        ev.CallAnswered(call_id, agent, "billing", 13.0),
    ):
        cc.apply(event)
    return cc


def test_only_the_agent_talking_on_a_call_owns_it() -> None:
    cc = talking()
    assert cc.control.own_call("1001", "c1").channel == "PJSIP/trunk-c1"
    with pytest.raises(CallActionRefused) as other:
        cc.control.own_call("1002", "c1")
    assert other.value.code is RefusalCode.NOT_YOUR_CALL
    with pytest.raises(CallActionRefused) as gone:
        cc.control.own_call("1001", "nope")
    assert gone.value.code is RefusalCode.NO_SUCH_CALL


def test_a_ringing_call_is_not_yet_the_agents_to_act_on() -> None:
    cc = talking()
    cc.apply(ev.CallStarted("c2", "PJSIP/trunk-c2", "15550100002", "", 20.0))
    cc.apply(ev.CallQueued("c2", "general", 1, 21.0))
    cc.apply(ev.AgentRang("c2", "1002", "general", 22.0))
    with pytest.raises(CallActionRefused) as ringing:
        cc.control.own_call("1002", "c2")
    assert ringing.value.code is RefusalCode.NOT_YOUR_CALL


@pytest.mark.parametrize(
    ("kind", "target", "code"),
    [
        ("queue", "nowhere", RefusalCode.UNKNOWN_TARGET),
        ("agent", "1001", RefusalCode.UNKNOWN_TARGET),  # oneself
        ("agent", "9999", RefusalCode.UNKNOWN_TARGET),
        ("agent", "1003", RefusalCode.TARGET_UNAVAILABLE),  # logged out
        ("voicemail", "1002", RefusalCode.BAD_REQUEST),
    ],
)
def test_transfer_targets_are_checked(kind: str, target: str, code: RefusalCode) -> None:
    cc = talking()
    with pytest.raises(CallActionRefused) as refused:
        cc.control.check_transfer("1001", "c1", kind, target)
    assert refused.value.code is code


def test_a_transfer_to_a_ready_agent_frees_the_first_and_pops_the_second() -> None:
    cc = talking()
    kind = cc.control.check_transfer("1001", "c1", "agent", "1002")
    assert kind is TransferKind.AGENT
    previous = cc.control.begin_transfer("c1", Transfer("1001", "1002", kind))
    assert previous is None
    effects = cc.transferred("1001", "c1", 30.0)
    assert cc.agents["1001"].state is AgentState.READY
    pops = [e for e in effects if isinstance(e, fx.PublishScreenPop)]
    assert [(p.agent_id, p.call.call_id) for p in pops] == [("1002", "c1")]
    assert cc.control.transfer_of("c1") == Transfer("1001", "1002", TransferKind.AGENT)
    assert cc.control.pop_still_due("1002", "c1")
    assert not cc.control.pop_still_due("1001", "c1")


def test_a_transfer_to_a_queue_pops_nobody_at_once() -> None:
    cc = talking()
    kind = cc.control.check_transfer("1001", "c1", "queue", "general")
    cc.control.begin_transfer("c1", Transfer("1001", "general", kind))
    effects = cc.transferred("1001", "c1", 30.0)
    assert [e for e in effects if isinstance(e, fx.PublishScreenPop)] == []


def test_a_refused_transfer_leaves_the_previous_record() -> None:
    cc = talking()
    first = Transfer("1000", "1001", TransferKind.AGENT)
    cc.control.begin_transfer("c1", first)
    previous = cc.control.begin_transfer("c1", Transfer("1001", "billing", TransferKind.QUEUE))
    cc.control.cancel_transfer("c1", previous)
    assert cc.control.transfer_of("c1") == first
    cc.control.cancel_transfer("c1", None)
    assert cc.control.transfer_of("c1") is None


def test_the_agent_who_transferred_a_call_may_not_give_its_disposition() -> None:
    cc = talking()
    cc.control.begin_transfer("c1", Transfer("1001", "1002", TransferKind.AGENT))
    cc.transferred("1001", "c1", 30.0)
    with pytest.raises(CallActionRefused) as refused:
        cc.control.check_disposition("1001", "c1")
    assert refused.value.code is RefusalCode.TRANSFERRED


def test_disposition_of_a_live_call_is_for_the_agent_who_answered_it() -> None:
    cc = talking()
    assert cc.control.check_disposition("1001", "c1") is True
    with pytest.raises(CallActionRefused) as refused:
        cc.control.check_disposition("1002", "c1")
    assert refused.value.code is RefusalCode.NOT_YOUR_CALL
    assert cc.control.check_disposition("1002", "ended-long-ago") is False


def test_the_transfer_record_goes_with_the_call() -> None:
    cc = talking()
    cc.control.begin_transfer("c1", Transfer("1001", "1002", TransferKind.AGENT))
    cc.apply(ev.CallEnded("c1", 40.0, "Normal"))
    assert cc.control.transfer_of("c1") is None
    assert cc.control.check_disposition("1001", "c1") is False  # the records decide now
