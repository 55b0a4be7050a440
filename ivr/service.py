"""The IVR's FastAGI routes: ``ivr`` (the flow), ``announce`` (while waiting)
and ``survey`` (after the call).

The dialplan picks one by the script path of its AGI URL
(``agi://host:port/ivr``, ``agi://host:port/survey``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from ivr.announce import Announcer, QueueInfo
from ivr.engine import CustomerDirectory, FlowEngine, SurveyRunner
from ivr.fastagi import AgiHandler, AgiSession
from ivr.flow import Flow, load_flow
from ivr.live_flow import LiveFlow
from ivr.lockout import PinAttempts
from ivr.prompts import PROMPTS, PROMPTS_ROOT, prompt_names

log = logging.getLogger(__name__)

DEFAULT_FLOW = Path(__file__).parent / "flows" / "hotline.yaml"


def load_default_flow(path: Path | None = None) -> Flow:
    """Load (and validate) the flow file; raises FlowError naming file/node/problem."""
    return load_flow(path or DEFAULT_FLOW, prompt_names())


def ivr_routes(
    flow: Flow | None = None,
    directory: CustomerDirectory | None = None,
    queue_info: QueueInfo | None = None,
    callback_offer_after_s: float | None = None,
    pin_attempts: PinAttempts | None = None,
    callback_refusal: Callable[[str], str | None] | None = None,
    live: LiveFlow | None = None,
) -> dict[str, AgiHandler]:
    """``live``: the flow new calls take, switchable (the crisis switch); else ``flow``."""
    live = live or LiveFlow(flow or load_default_flow())
    flow = live.normal

    async def main_ivr(session: AgiSession) -> None:
        active = live.current  # read once: the call keeps this flow to its end
        engine = FlowEngine(
            active.flow,
            PROMPTS_ROOT,
            directory=directory,
            pin_attempts=pin_attempts,
            announcement=active.announcement,
        )
        run = await engine.run(session)
        log.info("call %s: IVR %s -> %s", session.uniqueid, run.path, run.outcome)

    async def post_call_survey(session: AgiSession) -> None:
        survey = SurveyRunner(live.current.flow, PROMPTS_ROOT, frozenset(PROMPTS))
        if not survey.enabled:
            return
        result = await survey.run(session)
        log.info(
            "call %s: survey score %s after %d tries, NPS %s",
            session.uniqueid,
            result.score,
            result.tries,
            result.nps,
        )

    routes: dict[str, AgiHandler] = {"ivr": main_ivr, "survey": post_call_survey}
    if queue_info is not None:
        announcer = Announcer(
            queue_info,
            PROMPTS_ROOT,
            frozenset(PROMPTS),
            flow.language,
            callback_offer_after_s,
            callback_refusal,
        )

        async def queue_announcement(session: AgiSession) -> None:
            said = await announcer.run(session)
            if said is not None:
                log.info(
                    "call %s: told place %d, wait %.0f s%s",
                    session.uniqueid,
                    said.position,
                    said.wait_s,
                    f", call-back on {said.callback}" if said.callback else "",
                )

        routes["announce"] = queue_announcement
    return routes
