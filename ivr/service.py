"""The IVR's FastAGI routes: ``ivr`` (the flow) and ``survey`` (after the call).

The dialplan picks one by the script path of its AGI URL
(``agi://host:port/ivr``, ``agi://host:port/survey``).
"""

from __future__ import annotations

import logging
from pathlib import Path

from ivr.engine import CustomerDirectory, FlowEngine, SurveyRunner
from ivr.fastagi import AgiHandler, AgiSession
from ivr.flow import Flow, load_flow
from ivr.prompts import PROMPTS, PROMPTS_ROOT, prompt_names

log = logging.getLogger(__name__)

DEFAULT_FLOW = Path(__file__).parent / "flows" / "hotline.yaml"


def load_default_flow(path: Path | None = None) -> Flow:
    """Load (and validate) the flow file; raises FlowError naming file/node/problem."""
    return load_flow(path or DEFAULT_FLOW, prompt_names())


def ivr_routes(
    flow: Flow | None = None, directory: CustomerDirectory | None = None
) -> dict[str, AgiHandler]:
    flow = flow or load_default_flow()
    engine = FlowEngine(flow, PROMPTS_ROOT, directory=directory)
    survey = SurveyRunner(flow, PROMPTS_ROOT, frozenset(PROMPTS))

    async def main_ivr(session: AgiSession) -> None:
        run = await engine.run(session)
        log.info("call %s: IVR %s -> %s", session.uniqueid, run.path, run.outcome)

    async def post_call_survey(session: AgiSession) -> None:
        if not survey.enabled:
            return
        result = await survey.run(session)
        log.info(
            "call %s: survey score %s after %d tries", session.uniqueid, result.score, result.tries
        )

    return {"ivr": main_ivr, "survey": post_call_survey}
