"""The IVR's FastAGI routes."""

from __future__ import annotations

import logging

from ivr.fastagi import AgiHandler, AgiSession
from ivr.menu import MenuConfig, run_menu

log = logging.getLogger(__name__)


def ivr_routes(menu: MenuConfig | None = None) -> dict[str, AgiHandler]:
    config = menu or MenuConfig()

    async def main_ivr(session: AgiSession) -> None:
        outcome = await run_menu(session, config)
        log.info("call %s: IVR %s -> queue %s", session.uniqueid, outcome.path, outcome.queue)

    return {"ivr": main_ivr}
