from __future__ import annotations

from cti.ami.translate import callback_channel_id, translate
from cti.domain import events as ev
from cti.domain.model import CallbackState

INBOUND = frozenset({"from-pstn"})


def test_newchannel_of_caller_starts_call_with_utf8_name() -> None:
    e = {
        "Event": "Newchannel",
        "Channel": "PJSIP/trunk-00000001",
        "Uniqueid": "1700000000.1",
        "Linkedid": "1700000000.1",
        "Context": "from-pstn",
        "CallerIDNum": "13800138000",
        "CallerIDName": "张伟",
    }
    assert translate(e, 5.0, INBOUND) == [
        ev.CallStarted("1700000000.1", "PJSIP/trunk-00000001", "13800138000", "张伟", 5.0)
    ]


def test_agent_leg_and_other_contexts_are_not_calls() -> None:
    agent_leg = {"Event": "Newchannel", "Uniqueid": "2", "Linkedid": "1", "Context": "from-pstn"}
    other = {"Event": "Newchannel", "Uniqueid": "3", "Linkedid": "3", "Context": "agents"}
    assert translate(agent_leg, 0, INBOUND) == []
    assert translate(other, 0, INBOUND) == []


def test_queue_events_use_member_name_and_timestamp() -> None:
    called = {
        "Event": "AgentCalled",
        "Linkedid": "1",
        "Queue": "billing",
        "MemberName": "1001",
        "Interface": "PJSIP/agent1001",
        "Timestamp": "1700000001.250000",
    }
    assert translate(called, 0, INBOUND) == [ev.AgentRang("1", "1001", "billing", 1700000001.25)]
    hangup_agent_leg = {"Event": "Hangup", "Uniqueid": "2", "Linkedid": "1"}
    assert translate(hangup_agent_leg, 0, INBOUND) == []
    hangup_caller = {"Event": "Hangup", "Uniqueid": "1", "Linkedid": "1", "Cause-txt": "Normal"}
    assert translate(hangup_caller, 3.0, INBOUND) == [ev.CallEnded("1", 3.0, "Normal")]


def test_unknown_and_malformed_events_give_nothing() -> None:
    assert translate({}, 0, INBOUND) == []
    assert translate(
        {"Event": "QueueCallerJoin", "Linkedid": "1", "Position": "x"}, 0, INBOUND
    ) == [ev.CallQueued("1", "", 0, 0)]


def test_identity_check_from_the_ivr_variable() -> None:
    e = {"Event": "VarSet", "Uniqueid": "1", "Linkedid": "1", "Variable": "HOTLINE_VERIFIED"}
    assert translate(e | {"Value": "1"}, 0, INBOUND) == [ev.IdentityChecked("1", True)]
    assert translate(e | {"Value": "0"}, 0, INBOUND) == [ev.IdentityChecked("1", False)]


def _caller(**fields: str) -> dict[str, str]:
    return {"Uniqueid": "1", "Linkedid": "1", "Channel": "PJSIP/trunk-00000001", **fields}


def test_routing_request_offer_and_talk_end_of_the_router_path() -> None:
    waiting = _caller(Event="VarSet", Variable="HOTLINE_ROUTING", Value="billing|zh|1|")
    assert translate(waiting, 7.0, INBOUND) == [
        ev.CallWaiting("1", "billing", "zh", "", 1, "", 7.0)
    ]
    begin = _caller(
        Event="DialBegin", Context="hotline-offer", DestChannel="PJSIP/agent1003-0000000a"
    )
    assert translate(begin, 8.0, INBOUND) == [ev.OfferRinging("1", "PJSIP/agent1003", 8.0)]
    answered = {**begin, "Event": "DialEnd", "DialStatus": "ANSWER"}
    assert translate(answered, 9.0, INBOUND) == [ev.OfferAnswered("1", "PJSIP/agent1003", 9.0)]
    no_answer = {**begin, "Event": "DialEnd", "DialStatus": "NOANSWER"}
    assert translate(no_answer, 9.0, INBOUND) == [
        ev.OfferFailed("1", "PJSIP/agent1003", "NOANSWER", 9.0)
    ]
    ended = _caller(Event="VarSet", Variable="HOTLINE_TALK_ENDED", Value="1003")
    assert translate(ended, 10.0, INBOUND) == [ev.AgentCallCompleted("1", "1003", 10.0)]
    fallback = _caller(Event="VarSet", Variable="HOTLINE_ROUTING_MODE", Value="queue")
    assert translate(fallback, 11.0, INBOUND) == [ev.RoutingFallback("1", 11.0)]


def test_dials_outside_the_offer_context_and_odd_routing_values() -> None:
    # a direct agent-to-agent call, and the agent leg's own DialBegin
    direct = _caller(Event="DialBegin", Context="agents", DestChannel="PJSIP/agent1002-1")
    agent_leg = {**direct, "Uniqueid": "2", "Context": "hotline-offer"}
    assert translate(direct, 0, INBOUND) == []
    assert translate(agent_leg, 0, INBOUND) == []
    # missing parts and junk urgency fall back to defaults; nothing raises
    odd = _caller(Event="VarSet", Variable="HOTLINE_ROUTING", Value="|x|urgent")
    assert translate(odd, 1.0, INBOUND) == [ev.CallWaiting("1", "general", "x", "", 3, "", 1.0)]
    assert (
        translate(_caller(Event="VarSet", Variable="HOTLINE_ROUTING", Value=""), 0, INBOUND) == []
    )


def test_survey_voicemail_and_transfer_from_the_ivr_variables() -> None:
    e = {"Event": "VarSet", "Uniqueid": "1", "Linkedid": "1"}
    started = e | {"Variable": "HOTLINE_SURVEY_STARTED", "Value": "1", "Timestamp": "7.5"}
    assert translate(started, 0, INBOUND) == [ev.SurveyStarted("1", 7.5)]
    survey = e | {"Variable": "HOTLINE_SURVEY"}
    assert translate(survey | {"Value": "4"}, 0, INBOUND) == [ev.SurveyAnswered("1", 4)]
    for bad in ("0", "6", "x", "", "44"):
        assert translate(survey | {"Value": bad}, 0, INBOUND) == []
    path = "/var/spool/asterisk/monitor/hotline/voicemail/1.wav"
    voicemail = e | {"Variable": "HOTLINE_VOICEMAIL"}
    assert translate(voicemail | {"Value": path}, 0, INBOUND) == [ev.VoicemailRecorded("1", path)]
    assert translate(voicemail | {"Value": ""}, 0, INBOUND) == []
    transfer = e | {"Variable": "HOTLINE_TRANSFER", "Value": "1003"}
    assert translate(transfer, 0, INBOUND) == [ev.IvrTransferred("1", "1003")]
    agent_leg = transfer | {"Uniqueid": "2"}
    assert translate(agent_leg, 0, INBOUND) == []


def test_callback_request_progress_and_first_leg_failures() -> None:
    asked = _caller(Event="VarSet", Variable="HOTLINE_CALLBACK", Value="15550100002")
    assert translate(asked, 1.0, INBOUND) == [ev.CallbackRequested("1", "15550100002", 1.0)]
    agent_leg = callback_channel_id("1.5", "1001", "agent")
    leg = {"Uniqueid": agent_leg, "Linkedid": agent_leg}
    state = {**leg, "Event": "VarSet", "Variable": "HOTLINE_CALLBACK_STATE"}
    assert translate({**state, "Value": "1.5|1001|agent-answered"}, 2.0, INBOUND) == [
        ev.CallbackProgress("1.5", "1001", CallbackState.AGENT_ANSWERED, 2.0)
    ]
    assert translate({**state, "Value": "1.5|1001|NOANSWER"}, 2.5, INBOUND) == [
        ev.CallbackProgress("1.5", "1001", CallbackState.ENDED, 2.5, "NOANSWER")
    ]
    assert translate({**state, "Value": "garbage"}, 2.0, INBOUND) == []
    failed = {**leg, "Event": "OriginateResponse", "Response": "Failure", "Reason": "3"}
    assert translate(failed, 3.0, INBOUND) == [
        ev.CallbackProgress("1.5", "1001", CallbackState.AGENT_FAILED, 3.0)
    ]
    customer = {**failed, "Uniqueid": callback_channel_id("1.5", "1001", "customer")}
    assert translate(customer, 3.0, INBOUND) == [
        ev.CallbackProgress("1.5", "1001", CallbackState.CUSTOMER_FAILED, 3.0)
    ]
    other = {**failed, "Uniqueid": "1700.9"}  # somebody else's originate
    assert translate(other, 3.0, INBOUND) == []
    assert translate({**failed, "Uniqueid": "hotline-callback~x~1~1001~1.5"}, 3.0, INBOUND) == []


def test_customer_first_callback_dial_of_the_agent() -> None:
    leg = callback_channel_id("1.5", "1002", "customer")
    dial = {"Uniqueid": leg, "Linkedid": leg, "Context": "hotline-callback-customer"}
    for event, status, state in (
        ("DialBegin", "", "agent-ringing"),
        ("DialEnd", "ANSWER", "agent-answered"),
        ("DialEnd", "NOANSWER", "agent-failed"),
        ("DialEnd", "CANCEL", "customer-left"),
    ):
        assert translate({**dial, "Event": event, "DialStatus": status}, 4.0, INBOUND) == [
            ev.CallbackProgress("1.5", "1002", state, 4.0)
        ]


def test_every_event_translate_matches_is_in_its_used_events() -> None:
    """The AMI client skips events outside ``USED_EVENTS`` undecoded: a name
    matched by ``translate`` but missing there would never arrive."""
    import ast
    import inspect

    from cti.ami import translate as module

    matched: set[str] = set()
    for node in ast.walk(ast.parse(inspect.getsource(module.translate))):
        if isinstance(node, ast.MatchValue) and isinstance(node.value, ast.Constant):
            matched.add(node.value.value)
    assert matched == module.USED_EVENTS


def test_events_outside_the_used_ones_give_nothing() -> None:
    for name in ("Newexten", "BridgeEnter", "RTCPSent", "FullyBooted", ""):
        e = {"Event": name, "Uniqueid": "1", "Linkedid": "1", "Context": "from-pstn"}
        assert translate(e, 0, INBOUND) == []
