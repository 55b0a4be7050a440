"""Call-backs dial only numbers the site's policy allows, within caps; the whole
number is read back; a restored call-back is checked again. Pure (core, policy,
announcer on a scripted AGI session)."""

from __future__ import annotations

import dataclasses
from pathlib import PurePosixPath

import pytest

from cti import dialplan
from cti.domain import effects as fx
from cti.domain import events as ev
from cti.domain.callback_policy import CallbackPolicy, normalise
from cti.domain.callcenter import CallCenter, QueueEstimate
from cti.domain.model import Disposition
from cti.routing import Router
from ivr.announce import Announcer
from tests.unit.test_callcenter_routing import EN, arrive, pending_after_hangup, plan, saved
from tests.unit.test_ivr_engine import ScriptedAgi

POLICY = CallbackPolicy(("1555", "+86"), min_digits=6, max_digits=15, max_per_number=1, max_total=3)


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("15550100002", None),
        ("+15550100002", None),
        ("8613800138000", None),
        ("+88213000000", "prefix"),  # satellite: not on the site's list
        ("1900555", "prefix"),
        ("1555\u0661\u0662\u0663\u0664", "not_digits"),  # Arabic-Indic digits pass str.isdigit
        ("１５５５０１００", "not_digits"),  # full-width digits
        ("1555 0100", "not_digits"),
        ("1555;0100", "not_digits"),
        ("anonymous", "anonymous"),
        ("", "anonymous"),
        ("Restricted", "anonymous"),
        ("1555", "length"),
        ("1555" + "0" * 12, "length"),
    ],
)
def test_numbers_are_checked_against_the_site_policy(number: str, reason: str | None) -> None:
    assert POLICY.number_refusal(number) == reason


def test_caps_per_number_and_in_total() -> None:
    assert POLICY.refusal("15550100002", ["+15550100002"]) == "number_cap"
    assert POLICY.refusal("15550100003", ["15550100002"]) is None
    assert POLICY.refusal("15550100009", ["15550100001", "15550100002", "15550100003"]) == (
        "total_cap"
    )


def test_no_prefixes_means_no_call_backs_and_bad_settings_are_refused() -> None:
    assert not CallbackPolicy().enabled
    assert CallbackPolicy().number_refusal("15550100002") == "prefix"
    assert normalise("+８６") is None
    for bad in ({"allowed_prefixes": ("15a",)}, {"min_digits": 9, "max_digits": 5}):
        with pytest.raises(ValueError):
            CallbackPolicy(**bad)  # type: ignore[arg-type]


def core_with_policy() -> CallCenter:
    core = CallCenter(["billing", "general"], Router(plan()), callback_policy=POLICY)
    core.register_agent("1001", "PJSIP/agent1001", ["billing"], skills=EN)
    core.login("1001", 0.0)
    return core


def ask(core: CallCenter, call_id: str, number: str, at: float) -> list[fx.Effect]:
    arrive(core, call_id, at)
    core.apply(ev.CallbackRequested(call_id, number, at + 20))
    return core.apply(ev.CallEnded(call_id, at + 25, "Normal Clearing"))


def test_a_call_back_to_a_refused_number_is_never_kept_nor_dialled() -> None:
    core = core_with_policy()
    effects = ask(core, "fraud", "+88213000000", 10.0)
    assert not saved(effects) and "fraud" not in core.calls
    assert any(isinstance(e, fx.StoreCdr) for e in effects)
    assert not [e for e in core.ready("1001", 50.0) if isinstance(e, fx.PlaceCallback)]


def test_one_pending_call_back_per_number() -> None:
    core = core_with_policy()
    assert saved(ask(core, "first", "15550100002", 10.0))
    second = ask(core, "second", "15550100002", 12.0)
    assert not saved(second) and "second" not in core.calls
    assert core.callback_refusal("15550100002") == "number_cap"


def test_a_restored_call_back_the_policy_now_refuses_is_closed_not_dialled() -> None:
    pending = dataclasses.replace(
        pending_after_hangup(core_with_policy()), callback_number="+88213000000"
    )
    core = core_with_policy()
    effects = core.restore_callbacks([pending], 60.0)
    assert not [e for e in effects if isinstance(e, fx.PlaceCallback)]
    cdr = next(e.cdr for e in effects if isinstance(e, fx.StoreCdr))
    assert (cdr.disposition, cdr.callback_outcome) == (Disposition.ABANDONED, "refused:prefix")
    assert "cb" not in core.calls
    assert not [e for e in core.ready("1001", 70.0) if isinstance(e, fx.PlaceCallback)]


def test_after_the_last_try_nothing_is_saved_again() -> None:
    """The CDR's transaction removes the pending row: no save may follow it."""
    core = core_with_policy()
    ask(core, "cb", "15550100002", 10.0)
    core.ready("1001", 50.0)
    core.apply(ev.CallbackProgress("cb", "1001", "agent-answered", 52.0))
    core.apply(ev.CallbackProgress("cb", "1001", "BUSY", 60.0))
    core.apply(ev.CallbackProgress("cb", "1001", "agent-answered", 62.0))
    effects = core.apply(ev.CallbackProgress("cb", "1001", "BUSY", 70.0))
    kinds = [type(e) for e in effects]
    assert fx.StoreCdr in kinds
    assert fx.SaveCallback not in kinds[kinds.index(fx.StoreCdr) :]
    assert "cb" not in core.calls and core.pending_callback_numbers() == []


class Info:
    def queue_estimate(self, call_id: str) -> QueueEstimate:
        return QueueEstimate(3, 5, 600.0)


async def test_the_announcer_offers_no_call_back_to_a_refused_number() -> None:
    announcer = Announcer(
        Info(), PurePosixPath("/s"), frozenset({"en"}), "en", 60.0, POLICY.number_refusal
    )
    session = ScriptedAgi(["1", "1"])
    session.caller_number = "+88213000000"
    said = await announcer.run(session)  # type: ignore[arg-type]
    assert said is not None and said.callback is None
    assert not any("callback" in entry[-1] for entry in session.log)


async def test_the_announcer_reads_back_the_whole_number() -> None:
    announcer = Announcer(
        Info(), PurePosixPath("/s"), frozenset({"en"}), "en", 60.0, POLICY.number_refusal
    )
    session = ScriptedAgi(["1", "1"])
    session.caller_number = "+15550100002"
    said = await announcer.run(session)  # type: ignore[arg-type]
    assert said is not None and said.callback == "+15550100002"
    read_back = [e[1].rsplit("/", 1)[1] for e in session.log if e[0] == "play" and "/num-" in e[1]]
    assert read_back[-11:] == [f"num-{d}" for d in "15550100002"]
    assert session.variables[dialplan.CALLBACK] == "+15550100002"
