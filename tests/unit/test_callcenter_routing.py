"""The core with the skills router: decisions become offers, RONA, fallbacks. Pure."""

from __future__ import annotations

import dataclasses

import pytest

from cti.domain import effects as fx
from cti.domain import events as ev
from cti.domain.callcenter import CallCenter, routing_attributes
from cti.domain.model import AgentState, CallbackState, Disposition, PendingCallback
from cti.routing import CallAttributes, Route, Router, RoutingPlan, Step
from cti.routing.model import PriorityPolicy, Requirement

RING_S = 4.0


def plan() -> RoutingPlan:
    return RoutingPlan(
        routes=(
            Route(
                "billing",
                match={"product": ("billing",)},
                steps=(
                    Step(0.0, Requirement.parse("lang.{language} >= 4 & billing >= 3")),
                    Step(5.0, Requirement.parse("lang.{language} >= 2 & billing >= 1")),
                ),
                ring_timeout_s=RING_S,
            ),
            Route("general", steps=(Step(0.0, Requirement.parse("lang.{language} >= 1")),)),
        ),
        priority=PriorityPolicy(tier={"standard": 0.0, "platinum": 60.0}),
    )


def center(**skills: dict[str, int]) -> CallCenter:
    core = CallCenter(["billing", "general"], Router(plan()))
    for agent_id, levels in skills.items():
        agent = agent_id.removeprefix("a")
        core.register_agent(agent, f"PJSIP/agent{agent}", ["billing"], skills=levels)
        core.login(agent, 0.0)
    return core


def arrive(
    core: CallCenter, call_id: str, at: float, language: str = "en", tier: str = ""
) -> list[fx.Effect]:
    core.apply(ev.CallStarted(call_id, f"PJSIP/trunk-{call_id}", "1555", "", at - 5))
    return core.apply(ev.CallWaiting(call_id, "billing", language, "", 3, tier, at))


def offers(effects: list[fx.Effect]) -> list[tuple[str, str]]:
    return [(e.call_id, e.agent_id) for e in effects if isinstance(e, fx.OfferCall)]


EN = {"lang.en": 5, "billing": 4}
ZH = {"lang.zh": 5, "billing": 4}


def test_offer_ring_answer_and_next_call_after_the_talk() -> None:
    core = center(a1001=EN)
    core.ready("1001", 1.0)
    effects = arrive(core, "c1", 10.0)
    assert offers(effects) == [("c1", "1001")]
    offer = next(e for e in effects if isinstance(e, fx.OfferCall))
    assert (offer.channel, offer.interface, offer.ring_timeout_s) == (
        "PJSIP/trunk-c1",
        "PJSIP/agent1001",
        RING_S,
    )
    assert offers(arrive(core, "c2", 11.0)) == []  # the only agent is busy
    ringing = core.apply(ev.OfferRinging("c1", "PJSIP/agent1001", 10.5))
    assert any(isinstance(e, fx.PublishScreenPop) and e.agent_id == "1001" for e in ringing)
    core.apply(ev.OfferAnswered("c1", "PJSIP/agent1001", 12.0))
    assert core.agents["1001"].state is AgentState.TALKING
    assert core.calls["c1"].agent_id == "1001"
    # the agent hangs up first (caller goes on to the survey): free for c2 at once
    effects = core.apply(ev.AgentCallCompleted("c1", "1001", 40.0))
    assert offers(effects) == [("c2", "1001")]


def test_vip_before_an_older_standard_call() -> None:
    core = center(a1001=EN)
    arrive(core, "old", 10.0)
    arrive(core, "vip", 20.0, tier="platinum")
    assert offers(core.ready("1001", 25.0)) == [("vip", "1001")]


def test_language_decides_among_idle_agents() -> None:
    core = center(a1001=EN, a1003=ZH)
    core.ready("1001", 1.0)  # idle longest
    core.ready("1003", 2.0)
    assert offers(arrive(core, "c1", 10.0, language="zh")) == [("c1", "1003")]


def test_ring_timeout_withdraws_pauses_and_offers_the_next_agent() -> None:
    core = center(a1001=EN, a1002=EN)
    core.ready("1001", 1.0)
    core.ready("1002", 2.0)
    arrive(core, "c1", 10.0)
    core.apply(ev.OfferRinging("c1", "PJSIP/agent1001", 10.2))
    effects = core.routing_timer(10.0 + RING_S)
    # offered again at once: one redirect straight to the next agent, no withdrawal
    assert [type(e) for e in effects if not isinstance(e, fx.PublishAgentState)] == [
        fx.PauseQueueMember,
        fx.OfferCall,
        fx.ScheduleRoutingTimer,
    ]
    assert offers(effects) == [("c1", "1002")]
    agent = core.agents["1001"]
    assert (agent.state, agent.pause_reason) == (AgentState.PAUSED, "rona")
    # Asterisk then reports the first dial ended (cancelled by the withdrawal)
    late = core.apply(ev.OfferFailed("c1", "PJSIP/agent1001", "CANCEL", 14.5))
    assert offers(late) == [] and core.agents["1001"].state is AgentState.PAUSED


def test_busy_agent_is_paused_and_the_call_offered_again() -> None:
    core = center(a1001=EN, a1002=EN)
    core.ready("1001", 1.0)
    core.ready("1002", 2.0)
    arrive(core, "c1", 10.0)
    effects = core.apply(ev.OfferFailed("c1", "PJSIP/agent1001", "BUSY", 10.3))
    assert offers(effects) == [("c1", "1002")]
    assert core.agents["1001"].state is AgentState.PAUSED


def test_caller_leaving_while_rung_frees_the_agent_without_a_redirect() -> None:
    core = center(a1001=EN)
    core.ready("1001", 1.0)
    arrive(core, "c1", 10.0)
    core.apply(ev.OfferRinging("c1", "PJSIP/agent1001", 10.2))
    effects = core.apply(ev.CallEnded("c1", 12.0, "Normal Clearing"))
    assert not [e for e in effects if isinstance(e, fx.WithdrawOffer)]
    assert core.agents["1001"].state is AgentState.READY
    cdr = next(e.cdr for e in effects if isinstance(e, fx.StoreCdr))
    assert cdr.disposition is Disposition.ABANDONED
    assert offers(arrive(core, "c2", 13.0)) == [("c2", "1001")]  # and the router knows


def test_agent_pausing_while_offered_sends_the_call_elsewhere() -> None:
    core = center(a1001=EN, a1002=EN)
    core.ready("1001", 1.0)
    core.ready("1002", 2.0)
    arrive(core, "c1", 10.0)
    effects = core.pause("1001", "break", 10.5)
    assert [type(e) for e in effects if isinstance(e, fx.WithdrawOffer | fx.OfferCall)] == [
        fx.OfferCall
    ]
    assert offers(effects) == [("c1", "1002")]


def test_ring_timeout_with_nobody_else_sends_the_caller_back_to_waiting() -> None:
    core = center(a1001=EN)
    core.ready("1001", 1.0)
    arrive(core, "c1", 10.0)
    effects = core.routing_timer(10.0 + RING_S)
    assert [e for e in effects if isinstance(e, fx.WithdrawOffer)] == [
        fx.WithdrawOffer("c1", "PJSIP/trunk-c1")
    ]
    assert offers(effects) == []
    assert core.agents["1001"].pause_reason == "rona"


def test_relaxation_step_reaches_a_junior_after_its_time_only() -> None:
    core = center(a1004={"lang.en": 5, "billing": 1}, a1003=ZH)
    core.ready("1004", 1.0)
    core.ready("1003", 1.0)
    effects = arrive(core, "c1", 10.0)
    assert offers(effects) == []
    timer = next(e for e in effects if isinstance(e, fx.ScheduleRoutingTimer))
    assert timer.at == 15.0
    assert offers(core.routing_timer(14.9)) == []
    assert offers(core.routing_timer(15.0)) == [("c1", "1004")]


def test_fallback_to_app_queue_takes_the_call_out_of_the_router() -> None:
    core = center(a1001=EN)
    arrive(core, "c1", 10.0)
    core.apply(ev.RoutingFallback("c1", 30.0))
    assert offers(core.ready("1001", 31.0)) == []
    # app_queue rings the agent: the router must not offer it anything meanwhile
    core.apply(ev.AgentRang("c1", "1001", "billing", 32.0))
    assert offers(arrive(core, "c2", 33.0)) == []


def test_transfer_back_to_waiting_routes_the_call_anew() -> None:
    core = center(a1001=EN, a1002=EN)
    core.ready("1001", 1.0)
    arrive(core, "c1", 10.0)
    core.apply(ev.OfferAnswered("c1", "PJSIP/agent1001", 11.0))
    core.apply(ev.AgentCallCompleted("c1", "1001", 20.0))  # blind transfer to a queue
    core.ready("1002", 20.5)
    effects = core.apply(ev.CallWaiting("c1", "billing", "en", "", 3, "", 21.0))
    assert offers(effects) in ([("c1", "1001")], [("c1", "1002")])


@pytest.mark.parametrize(
    ("language", "product", "urgency", "expected"),
    [
        ("zh", "", 1, CallAttributes("zh", "billing", urgency=1)),
        ("", "security", 7, CallAttributes("en", "security")),
        ("x y", "billing", 2, CallAttributes("en", "general", urgency=2)),
    ],
)
def test_routing_attributes_fall_back_to_safe_defaults(
    language: str, product: str, urgency: int, expected: CallAttributes
) -> None:
    event = ev.CallWaiting("c", "billing", language, product, urgency, "", 0.0)
    assert routing_attributes(event) == expected


# ---------------------------------------------------------------- call-backs
def waiting_callback(core: CallCenter, call_id: str = "cb", at: float = 10.0) -> None:
    arrive(core, call_id, at)
    core.apply(ev.CallbackRequested(call_id, "15550100002", at + 20))
    core.apply(ev.CallEnded(call_id, at + 25, "Normal Clearing"))  # the IVR hung up


def test_callback_keeps_the_place_after_the_caller_hangs_up() -> None:
    core = center(a1001=EN)
    waiting_callback(core)
    arrive(core, "later", 40.0)
    call = core.calls["cb"]
    assert call.awaiting_callback and call.channel == ""
    assert core.waiting_position("cb", 41.0) == (1, 2)
    effects = core.ready("1001", 50.0)
    callback = [e for e in effects if isinstance(e, fx.PlaceCallback)]
    assert callback == [fx.PlaceCallback("cb", "15550100002", "1001", "PJSIP/agent1001", RING_S)]
    assert not offers(effects)  # no redirect: there is no channel to move
    assert any(isinstance(e, fx.PublishScreenPop) for e in effects)


def test_answered_callback_writes_one_answered_cdr_and_frees_the_agent() -> None:
    core = center(a1001=EN)
    waiting_callback(core)
    arrive(core, "later", 40.0)
    core.ready("1001", 50.0)
    core.apply(ev.CallbackProgress("cb", "1001", CallbackState.AGENT_ANSWERED, 52.0))
    assert core.agents["1001"].state is AgentState.TALKING
    effects = core.apply(ev.CallbackProgress("cb", "1001", CallbackState.ENDED, 120.0, "ANSWER"))
    cdr = next(e.cdr for e in effects if isinstance(e, fx.StoreCdr))
    assert (cdr.disposition, cdr.callback_outcome, cdr.agent_id) == (
        Disposition.ANSWERED,
        "answered",
        "1001",
    )
    assert offers(effects) == [("later", "1001")]


def test_unanswered_customer_is_tried_again_then_given_up() -> None:
    core = center(a1001=EN)
    waiting_callback(core)
    core.ready("1001", 50.0)
    core.apply(ev.CallbackProgress("cb", "1001", CallbackState.AGENT_ANSWERED, 52.0))
    effects = core.apply(ev.CallbackProgress("cb", "1001", CallbackState.ENDED, 82.0, "NOANSWER"))
    # the agent is free again and the call-back comes back to it (second attempt)
    assert [e.call_id for e in effects if isinstance(e, fx.PlaceCallback)] == ["cb"]
    core.apply(ev.CallbackProgress("cb", "1001", CallbackState.AGENT_ANSWERED, 84.0))
    effects = core.apply(ev.CallbackProgress("cb", "1001", CallbackState.ENDED, 90.0, "BUSY"))
    cdr = next(e.cdr for e in effects if isinstance(e, fx.StoreCdr))
    assert (cdr.disposition, cdr.callback_outcome) == (Disposition.ABANDONED, "failed:busy")
    assert "cb" not in core.calls


def test_agent_not_answering_a_callback_is_paused_and_the_next_one_rung() -> None:
    core = center(a1001=EN, a1002=EN)
    waiting_callback(core)
    core.ready("1001", 50.0)
    core.ready("1002", 51.0)
    effects = core.apply(ev.CallbackProgress("cb", "1001", CallbackState.AGENT_FAILED, 53.0))
    assert [(e.call_id, e.agent_id) for e in effects if isinstance(e, fx.PlaceCallback)] == [
        ("cb", "1002")
    ]
    assert core.agents["1001"].pause_reason == "rona"
    # a late answer on the first leg is not the offer any more: ignored
    assert core.apply(ev.CallbackProgress("cb", "1001", CallbackState.AGENT_ANSWERED, 54.0)) == []


def test_resync_keeps_callbacks_that_asterisk_no_longer_has() -> None:
    from cti.domain.callcenter import PbxSnapshot

    core = center(a1001=EN)
    waiting_callback(core)
    core.reconcile(PbxSnapshot(calls=(), members=(), queues=()), 60.0)
    assert "cb" in core.calls and core.waiting_position("cb", 60.0) == (1, 1)


def test_callback_asked_while_being_offered_is_not_kept() -> None:
    core = center(a1001=EN)
    core.ready("1001", 1.0)
    arrive(core, "c1", 10.0)  # offered at once
    core.apply(ev.CallbackRequested("c1", "15550100002", 11.0))
    effects = core.apply(ev.CallEnded("c1", 12.0, ""))
    assert any(isinstance(e, fx.StoreCdr) for e in effects) and "c1" not in core.calls


def test_customer_first_callback_rings_the_agent_only_once_the_customer_answered() -> None:
    core = CallCenter(["billing"], Router(plan()), callback_order="customer-first")
    for agent in ("1001", "1002"):
        core.register_agent(agent, f"PJSIP/agent{agent}", ["billing"], skills=EN)
        core.login(agent, 0.0)
    waiting_callback(core)
    effects = core.ready("1001", 50.0)
    place = next(e for e in effects if isinstance(e, fx.PlaceCallback))
    assert (place.order, place.agent_id, place.language) == ("customer-first", "1001", "en")
    assert not any(isinstance(e, fx.PublishScreenPop) for e in effects)  # nobody rings yet
    # the customer rings longer than the agent's ring timeout: no RONA meanwhile
    assert not any(isinstance(e, fx.PauseQueueMember) for e in core.routing_timer(50.0 + RING_S))
    core.apply(ev.CallbackProgress("cb", "1001", CallbackState.CUSTOMER_ANSWERED, 60.0))
    ringing = core.apply(ev.CallbackProgress("cb", "1001", CallbackState.AGENT_RINGING, 60.1))
    assert any(isinstance(e, fx.PublishScreenPop) and e.agent_id == "1001" for e in ringing)
    core.apply(ev.CallbackProgress("cb", "1001", CallbackState.AGENT_ANSWERED, 61.0))
    assert core.agents["1001"].state is AgentState.TALKING
    effects = core.apply(ev.CallbackProgress("cb", "1001", CallbackState.ENDED, 120.0, "ANSWER"))
    cdr = next(e.cdr for e in effects if isinstance(e, fx.StoreCdr))
    assert (cdr.callback_outcome, cdr.agent_id) == ("answered", "1001")


def test_customer_not_answering_a_customer_first_callback_is_not_the_agents_fault() -> None:
    core = CallCenter(["billing"], Router(plan()), callback_order="customer-first")
    core.register_agent("1001", "PJSIP/agent1001", ["billing"], skills=EN)
    core.login("1001", 0.0)
    waiting_callback(core)
    arrive(core, "later", 40.0)
    core.ready("1001", 50.0)
    effects = core.apply(ev.CallbackProgress("cb", "1001", CallbackState.CUSTOMER_FAILED, 80.0))
    assert offers(effects) == [("later", "1001")]  # the agent serves the next caller
    assert core.agents["1001"].pause_reason == ""
    # the call-back keeps the head of the line ("later" counts until it is answered)
    assert core.waiting_position("cb", 81.0) == (1, 2)


# ------------------------------------------------ call-backs across a restart
def saved(effects: list[fx.Effect]) -> list[PendingCallback]:
    return [e.callback for e in effects if isinstance(e, fx.SaveCallback)]


def pending_after_hangup(core: CallCenter) -> PendingCallback:
    arrive(core, "cb", 10.0, tier="platinum")
    core.apply(ev.CallbackRequested("cb", "15550100002", 30.0))
    effects = core.apply(ev.CallEnded("cb", 35.0, "Normal Clearing"))
    (pending,) = saved(effects)
    return pending


def test_a_promised_callback_is_saved_with_what_routing_it_again_needs() -> None:
    pending = pending_after_hangup(center(a1001=EN))
    assert (pending.call_id, pending.callback_number, pending.queue) == (
        "cb",
        "15550100002",
        "billing",
    )
    assert (pending.queued_at, pending.tier, pending.language, pending.product) == (
        10.0,
        "platinum",
        "en",
        "billing",
    )
    assert (pending.attempts, pending.in_flight) == (0, False)


def test_a_try_is_saved_as_under_way_before_it_is_placed_and_its_failure_after() -> None:
    core = center(a1001=EN)
    pending_after_hangup(core)
    effects = core.ready("1001", 50.0)
    kinds = [type(e) for e in effects if isinstance(e, fx.SaveCallback | fx.PlaceCallback)]
    assert kinds == [fx.SaveCallback, fx.PlaceCallback]  # marked first
    assert saved(effects)[0].in_flight
    core.apply(ev.CallbackProgress("cb", "1001", CallbackState.AGENT_ANSWERED, 52.0))
    effects = core.apply(ev.CallbackProgress("cb", "1001", CallbackState.ENDED, 82.0, "NOANSWER"))
    assert [(p.attempts, p.in_flight) for p in saved(effects)][:1] == [(1, False)]


def test_restored_callback_waits_in_its_old_place_ahead_of_later_callers() -> None:
    pending = pending_after_hangup(center(a1001=EN))
    core = center(a1001=EN)  # the CTI restarted: nothing in memory
    arrive(core, "later", 40.0)
    core.restore_callbacks([pending], 60.0)
    call = core.calls["cb"]
    assert call.awaiting_callback and call.callback_attempts == 0
    assert core.waiting_position("cb", 61.0) == (1, 2)
    effects = core.ready("1001", 70.0)
    assert [(e.call_id, e.number) for e in effects if isinstance(e, fx.PlaceCallback)] == [
        ("cb", "15550100002")
    ]


def test_restored_try_that_reached_the_customer_ends_the_call_without_calling_again() -> None:
    pending = dataclasses.replace(pending_after_hangup(center(a1001=EN)), in_flight=True)
    core = center(a1001=EN)
    core.ready("1001", 50.0)
    effects = core.restore_callbacks([pending], 60.0, {"cb": ("1001", 40.0, 55.0)})
    assert not [e for e in effects if isinstance(e, fx.PlaceCallback)]
    cdr = next(e.cdr for e in effects if isinstance(e, fx.StoreCdr))
    assert (cdr.disposition, cdr.callback_outcome, cdr.agent_id, cdr.talk_s) == (
        Disposition.ANSWERED,
        "answered",
        "1001",
        15.0,
    )
    assert "cb" not in core.calls


def test_restored_try_with_no_trace_counts_as_failed_and_the_last_one_gives_up() -> None:
    first = dataclasses.replace(pending_after_hangup(center(a1001=EN)), in_flight=True)
    core = center(a1001=EN)
    effects = core.restore_callbacks([first], 60.0)
    assert [(p.attempts, p.in_flight) for p in saved(effects)] == [(1, False)]
    assert core.calls["cb"].awaiting_callback
    last = dataclasses.replace(first, attempts=1)  # callback_attempts is 2
    core = center(a1001=EN)
    effects = core.restore_callbacks([last], 60.0)
    cdr = next(e.cdr for e in effects if isinstance(e, fx.StoreCdr))
    assert (cdr.disposition, cdr.callback_outcome) == (Disposition.ABANDONED, "failed:unknown")


def test_an_agent_answering_an_offer_the_core_had_already_withdrawn_still_gets_the_pop() -> None:
    # Under load the CTI reads Asterisk's events late: the ring timeout fires
    # before the DialBegin is read, but Asterisk had already rung the agent,
    # who answers. The agent talks to the caller: the desk must show who it is.
    core = center(a1001=EN)
    core.ready("1001", 1.0)
    arrive(core, "c1", 10.0)
    core.routing_timer(10.0 + RING_S)  # RONA: withdrawn, the agent paused
    late_ring = core.apply(ev.OfferRinging("c1", "PJSIP/agent1001", 10.5))
    assert not any(isinstance(e, fx.PublishScreenPop) for e in late_ring)
    answered = core.apply(ev.OfferAnswered("c1", "PJSIP/agent1001", 15.0))
    pops = [e for e in answered if isinstance(e, fx.PublishScreenPop)]
    assert [p.agent_id for p in pops] == ["1001"]
    assert pops[0].call.call_id == "c1"
    assert core.agents["1001"].state is AgentState.TALKING


def test_an_answered_offer_that_rang_as_usual_pops_only_once() -> None:
    core = center(a1001=EN)
    core.ready("1001", 1.0)
    arrive(core, "c1", 10.0)
    core.apply(ev.OfferRinging("c1", "PJSIP/agent1001", 10.5))
    answered = core.apply(ev.OfferAnswered("c1", "PJSIP/agent1001", 12.0))
    assert not any(isinstance(e, fx.PublishScreenPop) for e in answered)


def test_caller_hanging_up_while_rung_neither_pauses_the_agent_nor_offers_the_call_again() -> None:
    # Asterisk's order: the dial ends CANCEL on the caller's channel, then its Hangup
    core = center(a1001=EN, a1002=EN)
    core.ready("1001", 1.0)
    core.ready("1002", 2.0)
    arrive(core, "c1", 10.0)
    core.apply(ev.OfferRinging("c1", "PJSIP/agent1001", 10.2))
    effects = core.apply(ev.OfferFailed("c1", "PJSIP/agent1001", "CANCEL", 11.0))
    assert offers(effects) == []  # the call is gone: no Setvar/Redirect of a dead channel
    assert not [e for e in effects if isinstance(e, fx.PauseQueueMember)]
    core.apply(ev.CallEnded("c1", 11.01, "Normal Clearing"))
    assert core.agents["1001"].state is AgentState.READY
    assert core.agents["1002"].state is AgentState.READY
    assert offers(arrive(core, "c2", 13.0)) == [("c2", "1001")]  # and the router knows


def test_an_offer_cancelled_with_no_hangup_after_it_is_withdrawn_at_the_ring_timeout() -> None:
    core = center(a1001=EN, a1002=EN)
    core.ready("1001", 1.0)
    core.ready("1002", 2.0)
    arrive(core, "c1", 10.0)
    core.apply(ev.OfferFailed("c1", "PJSIP/agent1001", "CANCEL", 11.0))
    effects = core.routing_timer(10.0 + RING_S)
    assert offers(effects) == [("c1", "1002")]
