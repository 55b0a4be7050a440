"""Place-in-line and expected-wait announcements: the estimate and the prompts said."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest

from cti.dialplan import QUEUE_POSITION as POSITION_VARIABLE
from cti.domain import events as ev
from cti.domain.callcenter import CallCenter, QueueEstimate, estimated_wait
from cti.routing import Route, Router, RoutingPlan, Step
from cti.routing.model import Requirement
from ivr.announce import Announcer, announcement_prompts
from tests.unit.test_ivr_engine import ScriptedAgi


def test_estimated_wait_shares_the_line_among_staffed_agents() -> None:
    assert estimated_wait(1, 2, 180.0) == 90.0
    assert estimated_wait(4, 2, 180.0) == 360.0
    assert estimated_wait(3, 0, 100.0) == 300.0  # nobody staffed: still a finite figure


@pytest.mark.parametrize(
    ("position", "wait_s", "expected"),
    [
        (1, 30.0, ("queue-position", "num-1", "queue-position-end", "queue-wait-short")),
        (
            3,
            121.0,
            (
                "queue-position",
                "num-3",
                "queue-position-end",
                "queue-wait",
                "num-3",
                "queue-minutes",
            ),
        ),
        (25, 3600.0, ("queue-position-many", "queue-wait-long")),
    ],
)
def test_prompts_say_place_and_minutes_rounded_up(
    position: int, wait_s: float, expected: tuple[str, ...]
) -> None:
    assert announcement_prompts(QueueEstimate(position, 30, wait_s)) == expected


def router_core() -> CallCenter:
    plan = RoutingPlan(routes=(Route("all", steps=(Step(0.0, Requirement.parse("lang.en")),)),))
    core = CallCenter(["general"], Router(plan))
    core.register_agent("1001", "PJSIP/agent1001", ["general"], skills={"lang.en": 5})
    core.login("1001", 0.0)
    return core


def test_estimate_follows_the_routers_order_and_measured_handle_time() -> None:
    core = router_core()
    for call_id, at, tier in (("a", 10.0, ""), ("b", 11.0, ""), ("vip", 12.0, "vip")):
        core.apply(ev.CallStarted(call_id, f"PJSIP/trunk-{call_id}", "1", "", at - 1))
        core.apply(ev.CallWaiting(call_id, "general", "en", "", 3, tier, at))
    assert core.queue_estimate("nope", 13.0) is None
    first = core.queue_estimate("vip", 13.0)
    assert first is not None and (first.position, first.waiting) == (1, 3)
    # paused agents do not count as staffed: one agent assumed
    assert first.wait_s == pytest.approx(core.handle_s)
    core.ready("1001", 14.0)  # takes the VIP call
    core.apply(ev.OfferAnswered("vip", "PJSIP/agent1001", 15.0))
    before = core.handle_s
    core.apply(ev.CallEnded("vip", 75.0, ""))  # a 60 s talk pulls the average down
    assert 60.0 < core.handle_s < before


class Info:
    def __init__(self, estimate: QueueEstimate | None) -> None:
        self.estimate = estimate

    def queue_estimate(self, call_id: str) -> QueueEstimate | None:
        return self.estimate


async def test_announcer_speaks_in_the_callers_language_and_marks_the_channel() -> None:
    session = ScriptedAgi(variables={"HOTLINE_LANGUAGE": "zh"})
    announcer = Announcer(
        Info(QueueEstimate(2, 5, 150.0)), PurePosixPath("/s"), frozenset({"en", "zh"}), "en"
    )
    said = await announcer.run(session)  # type: ignore[arg-type]
    assert said is not None and said.position == 2
    assert [entry[1] for entry in session.log if entry[0] == "play"] == [
        "/s/zh/queue-position",
        "/s/zh/num-2",
        "/s/zh/queue-position-end",
        "/s/zh/queue-wait",
        "/s/zh/num-3",
        "/s/zh/queue-minutes",
    ]
    assert session.variables[POSITION_VARIABLE] == "2"


async def test_announcer_is_silent_for_calls_the_router_does_not_hold() -> None:
    session = ScriptedAgi()
    announcer = Announcer(Info(None), PurePosixPath("/s"), frozenset({"en"}), "en")
    assert await announcer.run(session) is None  # type: ignore[arg-type]
    assert session.log == []
