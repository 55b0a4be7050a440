"""Asterisk AMI events -> domain events. Pure: no I/O, no clock.

A call is identified by the Asterisk ``Linkedid`` of the caller's channel;
the caller's channel is the one whose ``Uniqueid`` equals its ``Linkedid``.
Queue members are named by the agent id (``MemberName`` in QueueAdd).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from cti import dialplan
from cti.domain import events as ev
from cti.domain.model import CallbackState

SURVEY_SCORES = frozenset({"1", "2", "3", "4", "5"})
NPS_SCORES = frozenset(str(n) for n in range(11))  # "0".."10"

Fields = Mapping[str, str]

#: every event ``translate`` reads; the AMI client may skip all others undecoded
USED_EVENTS = frozenset(
    {
        "Newchannel",
        "VarSet",
        "DialBegin",
        "DialEnd",
        "OriginateResponse",
        "QueueCallerJoin",
        "AgentCalled",
        "AgentRingNoAnswer",
        "AgentDump",
        "AgentConnect",
        "QueueCallerAbandon",
        "AgentComplete",
        "Hangup",
        "QueueMemberAdded",
        "QueueMemberStatus",
        "QueueMemberPause",
        "QueueMemberRemoved",
    }
)


def _is_caller_channel(e: Fields) -> bool:
    return bool(e.get("Uniqueid")) and e.get("Uniqueid") == e.get("Linkedid")


def event_time(e: Fields, now: float) -> float:
    """AMI's ``Timestamp`` header (timestampevents=yes) or the adapter's clock.

    A timestamp that is not a finite number ("nan", "inf", "1e400") is ignored.
    """
    try:
        at = float(e["Timestamp"])
    except (KeyError, ValueError):
        return now
    return at if math.isfinite(at) else now


def _member_agent(e: Fields) -> str:
    return e.get("MemberName") or e.get("Name") or e.get("Interface", "")


def translate(e: Fields, now: float, inbound_contexts: frozenset[str]) -> list[ev.DomainEvent]:
    """Translate one AMI event; unknown or irrelevant events give ``[]``."""
    name = e.get("Event", "")
    if name not in USED_EVENTS:
        return []
    at = event_time(e, now)
    call_id = e.get("Linkedid", "")
    match name:
        case "Newchannel":
            if _is_caller_channel(e) and e.get("Context", "") in inbound_contexts:
                return [
                    ev.CallStarted(
                        call_id,
                        e.get("Channel", ""),
                        _clean_callerid(e.get("CallerIDNum", "")),
                        _clean_callerid(e.get("CallerIDName", "")),
                        at,
                    )
                ]
        case "VarSet" if _is_caller_channel(e):
            variable = e.get("Variable", "")
            if variable == dialplan.IVR_PATH:
                return [ev.IvrPathUpdated(call_id, e.get("Value", ""))]
            if variable == dialplan.VERIFIED:
                return [ev.IdentityChecked(call_id, e.get("Value", "") == "1")]
            if variable == dialplan.SURVEY_STARTED and e.get("Value"):
                return [ev.SurveyStarted(call_id, at)]
            if variable == dialplan.SURVEY and e.get("Value", "") in SURVEY_SCORES:
                return [ev.SurveyAnswered(call_id, int(e.get("Value", "")))]
            if variable == dialplan.NPS and e.get("Value", "") in NPS_SCORES:
                return [ev.NpsAnswered(call_id, int(e.get("Value", "")))]
            if variable == dialplan.VOICEMAIL and e.get("Value"):
                return [ev.VoicemailRecorded(call_id, e.get("Value", ""))]
            if variable == dialplan.TRANSFER and e.get("Value"):
                return [ev.IvrTransferred(call_id, e.get("Value", ""))]
            if variable == dialplan.RECORDING and e.get("Value"):
                return [ev.RecordingStarted(call_id, e.get("Value", ""))]
            if variable == dialplan.CALLBACK and e.get("Value"):
                return [ev.CallbackRequested(call_id, e.get("Value", ""), at)]
            if variable == dialplan.CALLBACK_STATE:
                parts = e.get("Value", "").split("|")
                if len(parts) == 3 and all(parts):
                    return [_callback_progress(parts[0], parts[1], parts[2], at)]
            if variable == dialplan.ROUTING and e.get("Value"):
                return [waiting_event(call_id, e.get("Value", ""), at)]
            if variable == dialplan.ROUTING_MODE and e.get("Value") == "queue":
                return [ev.RoutingFallback(call_id, at)]
            if variable == dialplan.TALK_ENDED and e.get("Value"):
                return [ev.AgentCallCompleted(call_id, e.get("Value", ""), at)]
        case "DialBegin" if _is_caller_channel(e) and e.get("Context") == dialplan.OFFER_CONTEXT:
            return [ev.OfferRinging(call_id, channel_interface(e.get("DestChannel", "")), at)]
        case "DialEnd" if _is_caller_channel(e) and e.get("Context") == dialplan.OFFER_CONTEXT:
            interface = channel_interface(e.get("DestChannel", ""))
            status = e.get("DialStatus", "")
            if status == "ANSWER":
                return [ev.OfferAnswered(call_id, interface, at)]
            return [ev.OfferFailed(call_id, interface, status, at)]
        case "OriginateResponse" if e.get("Response") == "Failure":
            # the first leg of a call-back was not answered (or could not ring)
            leg = callback_leg(e.get("Uniqueid", ""))
            if leg is not None:
                first, agent, of = leg
                state = (
                    CallbackState.AGENT_FAILED
                    if first == "agent"
                    else CallbackState.CUSTOMER_FAILED
                )
                return [ev.CallbackProgress(of, agent, state, at)]
        case "DialBegin" | "DialEnd" if e.get("Context") == dialplan.CALLBACK_CUSTOMER_CONTEXT:
            # customer first: the customer is on the line, the agent rung
            leg = callback_leg(e.get("Uniqueid", ""))
            if leg is None:
                return []
            _, agent, of = leg
            status = e.get("DialStatus", "")
            if name == "DialBegin":
                state = CallbackState.AGENT_RINGING
            elif status == "ANSWER":
                state = CallbackState.AGENT_ANSWERED
            elif status == "CANCEL":
                state = CallbackState.CUSTOMER_LEFT
            else:
                state = CallbackState.AGENT_FAILED
            return [ev.CallbackProgress(of, agent, state, at)]
        case "QueueCallerJoin":
            return [ev.CallQueued(call_id, e.get("Queue", ""), _int(e.get("Position")), at)]
        case "AgentCalled":
            return [ev.AgentRang(call_id, _member_agent(e), e.get("Queue", ""), at)]
        case "AgentRingNoAnswer" | "AgentDump":
            return [ev.AgentRingStopped(call_id, _member_agent(e), at)]
        case "AgentConnect":
            return [ev.CallAnswered(call_id, _member_agent(e), e.get("Queue", ""), at)]
        case "QueueCallerAbandon":
            return [ev.CallAbandoned(call_id, e.get("Queue", ""), at)]
        case "AgentComplete":
            return [ev.AgentCallCompleted(call_id, _member_agent(e), at)]
        case "Hangup" if _is_caller_channel(e):
            return [ev.CallEnded(call_id, at, e.get("Cause-txt", ""))]
        case "QueueMemberAdded" | "QueueMemberStatus" | "QueueMemberPause":
            return [
                ev.QueueMemberSeen(
                    e.get("Queue", ""),
                    _member_agent(e),
                    e.get("Interface", ""),
                    e.get("Paused", "0") == "1",
                )
            ]
        case "QueueMemberRemoved":
            return [ev.QueueMemberGone(e.get("Queue", ""), _member_agent(e))]
    return []


#: what the dialplan reports in HOTLINE_CALLBACK_STATE besides the end's DIALSTATUS
_REPORTED_STATES = {CallbackState.AGENT_ANSWERED.value, CallbackState.CUSTOMER_ANSWERED.value}


def _callback_progress(call_id: str, agent_id: str, state: str, at: float) -> ev.CallbackProgress:
    """``HOTLINE_CALLBACK_STATE``: a progress state, or the DIALSTATUS at the end."""
    if state in _REPORTED_STATES:
        return ev.CallbackProgress(call_id, agent_id, CallbackState(state), at)
    return ev.CallbackProgress(call_id, agent_id, CallbackState.ENDED, at, state)


def waiting_event(call_id: str, value: str, at: float, tier: str = "") -> ev.CallWaiting:
    """``HOTLINE_ROUTING`` ("queue|language|urgency|product") as a CallWaiting event."""
    parts = (value.split("|") + ["", "", "", ""])[:4]
    queue, language, urgency, product = (part.strip() for part in parts)
    return ev.CallWaiting(
        call_id, queue or "general", language, product, _int(urgency) or 3, tier, at
    )


def callback_channel_id(call_id: str, agent_id: str, first: str = "agent", attempt: int = 0) -> str:
    """Uniqueid given to the first leg of a call-back (read back by ``translate``);
    ``first`` is the leg dialled first: ``agent`` or ``customer``. ``attempt``
    keeps the ids of successive tries apart (Asterisk wants them unique)."""
    return f"{dialplan.CALLBACK_CHANNEL_PREFIX}{first}~{attempt}~{agent_id}~{call_id}"


def callback_leg(uniqueid: str) -> tuple[str, str, str] | None:
    """(first leg, agent id, call id) of a call-back channel id, else None."""
    if not uniqueid.startswith(dialplan.CALLBACK_CHANNEL_PREFIX):
        return None
    parts = uniqueid[len(dialplan.CALLBACK_CHANNEL_PREFIX) :].split("~", 3)
    if len(parts) != 4 or parts[0] not in ("agent", "customer") or not all(parts):
        return None
    return parts[0], parts[2], parts[3]


def channel_interface(channel: str) -> str:
    """``PJSIP/agent1001-0000002a`` -> ``PJSIP/agent1001``."""
    head, sep, _ = channel.rpartition("-")
    return head if sep else channel


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def _clean_callerid(value: str) -> str:
    return "" if value in ("<unknown>", "") else value
