"""Asterisk AMI events -> domain events. Pure: no I/O, no clock.

A call is identified by the Asterisk ``Linkedid`` of the caller's channel;
the caller's channel is the one whose ``Uniqueid`` equals its ``Linkedid``.
Queue members are named by the agent id (``MemberName`` in QueueAdd).
"""

from __future__ import annotations

from collections.abc import Mapping

from cti.domain import events as ev

IVR_PATH_VARIABLE = "HOTLINE_IVR_PATH"
RECORDING_VARIABLE = "HOTLINE_RECORDING"
VERIFIED_VARIABLE = "HOTLINE_VERIFIED"

Fields = Mapping[str, str]


def _is_caller_channel(e: Fields) -> bool:
    return bool(e.get("Uniqueid")) and e.get("Uniqueid") == e.get("Linkedid")


def event_time(e: Fields, now: float) -> float:
    """AMI's ``Timestamp`` header (timestampevents=yes) or the adapter's clock."""
    try:
        return float(e["Timestamp"])
    except (KeyError, ValueError):
        return now


def _member_agent(e: Fields) -> str:
    return e.get("MemberName") or e.get("Name") or e.get("Interface", "")


def translate(e: Fields, now: float, inbound_contexts: frozenset[str]) -> list[ev.DomainEvent]:
    """Translate one AMI event; unknown or irrelevant events give ``[]``."""
    name = e.get("Event", "")
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
            if variable == IVR_PATH_VARIABLE:
                return [ev.IvrPathUpdated(call_id, e.get("Value", ""))]
            if variable == VERIFIED_VARIABLE:
                return [ev.IdentityChecked(call_id, e.get("Value", "") == "1")]
            if variable == RECORDING_VARIABLE and e.get("Value"):
                return [ev.RecordingStarted(call_id, e.get("Value", ""))]
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


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def _clean_callerid(value: str) -> str:
    return "" if value in ("<unknown>", "") else value
