"""The IVR's FastAGI routes."""

from __future__ import annotations

import logging
from pathlib import Path

from ivr.engine import CustomerDirectory, FlowEngine
from ivr.fastagi import AgiHandler, AgiSession
from ivr.flow import Flow, load_flow
from ivr.prompts import PROMPTS_ROOT, prompt_names

log = logging.getLogger(__name__)

DEFAULT_FLOW = Path(__file__).parent / "flows" / "hotline.yaml"


def load_default_flow(path: Path | None = None) -> Flow:
    """Load (and validate) the flow file; raises FlowError naming file/node/problem."""
    return load_flow(path or DEFAULT_FLOW, prompt_names())


def ivr_routes(
    flow: Flow | None = None, directory: CustomerDirectory | None = None
) -> dict[str, AgiHandler]:
    engine = FlowEngine(flow or load_default_flow(), PROMPTS_ROOT, directory=directory)

    async def main_ivr(session: AgiSession) -> None:
        run = await engine.run(session)
        log.info("call %s: IVR %s -> queue %s", session.uniqueid, run.path, run.queue)

    return {"ivr": main_ivr}
