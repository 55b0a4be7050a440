"""Property-based tests of the AMI translator: well-formed events the core can apply."""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Iterator
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from cti import dialplan
from cti.ami.translate import translate
from cti.domain import events as ev
from cti.domain.callcenter import CallCenter

_VARIABLES = [
    getattr(dialplan, name)
    for name in dir(dialplan)
    if name.isupper() and isinstance(getattr(dialplan, name), str)
]
_KEYS = [
    "Event", "Uniqueid", "Linkedid", "Context", "Channel", "DestChannel", "CallerIDNum",
    "CallerIDName", "Variable", "Value", "DialStatus", "Response", "Queue", "Position",
    "MemberName", "Name", "Interface", "Paused", "Cause-txt", "Timestamp",
]  # fmt: skip
_EVENT_NAMES = [
    "Newchannel", "VarSet", "DialBegin", "DialEnd", "OriginateResponse", "QueueCallerJoin",
    "AgentCalled", "AgentRingNoAnswer", "AgentDump", "AgentConnect", "QueueCallerAbandon",
    "AgentComplete", "Hangup", "QueueMemberAdded", "QueueMemberStatus", "QueueMemberPause",
    "QueueMemberRemoved", "FullyBooted",
]  # fmt: skip
_VALUES = st.one_of(
    st.sampled_from(
        _VARIABLES
        + _EVENT_NAMES
        + ["1", "0", "5", "-1", "nan", "inf", "-inf", "1e400", "ANSWER", "CANCEL", "BUSY"]
        + ["Failure", "queue", "a|b|c", "1|2|3|4|5", "||", "PJSIP/agent1001-0000002a", "<unknown>"]
        + [dialplan.CALLBACK_CHANNEL_PREFIX + "agent~0~1001~c1", "9" * 5000, "1.5e9"]
    ),
    st.text(max_size=30),
)


@st.composite
def ami_headers(draw: st.DrawFn) -> dict[str, str]:
    fields = draw(st.dictionaries(st.sampled_from(_KEYS), _VALUES, max_size=12))
    if draw(st.booleans()):
        fields["Event"] = draw(st.sampled_from(_EVENT_NAMES))
    if draw(st.booleans()):  # the caller's own channel
        fields["Uniqueid"] = fields["Linkedid"] = draw(st.sampled_from(["1.1", "x"]))
    return fields


def _well_formed(value: Any, hint: Any) -> Iterator[str]:
    if hint is float:
        if not isinstance(value, float) or not math.isfinite(value):
            yield f"{value!r} is not a finite float"
    elif hint is None or isinstance(hint, str):
        return
    elif isinstance(hint, type) and not isinstance(value, hint):
        yield f"{value!r} is not a {hint.__name__}"


@settings(max_examples=300, derandomize=True)
@given(ami_headers(), st.floats(min_value=0, max_value=4e9))
@example({"Event": "Hangup", "Uniqueid": "1", "Linkedid": "1", "Timestamp": "nan"}, 1.0)
@example({"Event": "Hangup", "Uniqueid": "1", "Linkedid": "1", "Timestamp": "1e400"}, 1.0)
def test_any_headers_translate_to_well_formed_domain_events(
    fields: dict[str, str], now: float
) -> None:
    produced = translate(fields, now, frozenset({"from-trunk", "1"}))
    assert isinstance(produced, list)
    for event in produced:
        assert dataclasses.is_dataclass(event) and type(event).__module__ == ev.__name__
        hints = typing.get_type_hints(type(event))
        problems = [
            f"{type(event).__name__}.{f.name}: {p}"
            for f in dataclasses.fields(event)
            for p in _well_formed(getattr(event, f.name), hints[f.name])
        ]
        assert problems == []


# ------------------------------------------------- a whole stream into the core
_CALLS = ["c1", "c2", "c3"]
_AGENTS = ["1001", "1002", "9999"]


@st.composite
def coherent_ami_event(draw: st.DrawFn) -> dict[str, str]:
    """An AMI event about a few calls and agents, with values the translator acts on."""
    call = draw(st.sampled_from(_CALLS))
    agent = draw(st.sampled_from(_AGENTS))
    fields = {
        "Event": draw(st.sampled_from(_EVENT_NAMES)),
        "Linkedid": call,
        "Uniqueid": call if draw(st.booleans()) else f"{call}.2",
        "Context": draw(st.sampled_from(["from-trunk", dialplan.OFFER_CONTEXT, "other"])),
        "Channel": f"PJSIP/trunk-{call}",
        "DestChannel": f"PJSIP/agent{agent}-0001",
        "MemberName": agent,
        "Interface": f"PJSIP/agent{agent}",
        "Queue": draw(st.sampled_from(["general", "billing", "nowhere"])),
        "Variable": draw(st.sampled_from(_VARIABLES)),
        "Value": draw(
            st.sampled_from(["", "1", "5", "general|en|1|card", "a|b|c", agent, "queue", "x"])
        ),
        "DialStatus": draw(st.sampled_from(["ANSWER", "BUSY", "CANCEL", "NOANSWER"])),
        "Position": draw(st.sampled_from(["1", "-3", "x"])),
        "Paused": draw(st.sampled_from(["0", "1"])),
    }
    return fields


@settings(max_examples=150, derandomize=True, deadline=None)
@given(st.lists(coherent_ami_event(), max_size=40), st.booleans())
def test_any_stream_of_translated_events_is_applied_by_the_core_without_error(
    stream: list[dict[str, str]], logged_in: bool
) -> None:
    core = CallCenter(["general", "billing"])
    core.register_agent("1001", "PJSIP/agent1001", ["general", "billing"], 0.0)
    core.register_agent("1002", "PJSIP/agent1002", ["general"], 0.0)
    if logged_in:
        core.login("1001", at=1.0)
        core.ready("1001", at=1.0)
    for n, fields in enumerate(stream):
        for event in translate(fields, 10.0 + n, frozenset({"from-trunk"})):
            core.apply(event)
