"""How a site declares its crisis profiles (``crisis_profiles`` in the settings)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class CrisisProfileSpec(BaseModel):
    """One named profile: files under ``crisis_dir`` and/or an announcement prompt.

    ``flow``: an IVR flow file new calls take; ``routes``: a routes file the
    router takes for new decisions; ``announcement``: a prompt name played to
    every new caller before the flow. At least one of the three.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    flow: str | None = None
    routes: str | None = None
    announcement: str | None = None
    label_en: str = ""
    label_zh: str = ""


#: Shipped profiles (files in ``cti/crisis/files/``).
DEFAULT_PROFILES: dict[str, CrisisProfileSpec] = {
    "emergency": CrisisProfileSpec(
        flow="emergency-flow.yaml",
        routes="emergency-routes.yaml",
        announcement="crisis",
        label_en="Emergency: every caller to general, announcement first",
        label_zh="紧急：所有来电转综合队列，先播放通告",
    ),
    "announcement": CrisisProfileSpec(
        announcement="crisis",
        label_en="Announcement only (normal menu after it)",
        label_zh="仅播放通告（之后为正常菜单）",
    ),
}
