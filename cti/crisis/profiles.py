"""A crisis profile checked before it is taken: its files, inside the crisis folder only.

The browser names a profile, never a file. A profile's files are names
relative to ``crisis_dir``; one that leads out of it (absolute, ``..``, a
symbolic link elsewhere) is refused. The flow and routes files go through the
same validators as at start-up, so a bad file is refused with the same
errors (file, node or route, problem), and nothing is taken.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

import yaml

from cti.crisis.spec import CrisisProfileSpec
from cti.routing.config import RoutesConfigError, load_yaml, parse_routes
from cti.routing.model import RoutingPlan
from ivr.flow import Flow, FlowError, parse_flow

PROFILE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
MAX_FILE_BYTES = 1024 * 1024


class CrisisRefused(Exception):
    """A switch that cannot be made; ``status`` and ``code`` for the HTTP answer."""

    def __init__(self, status: int, code: str, message: str, problems: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.problems = list(problems)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A profile whose files passed their validators, ready to be taken."""

    name: str
    flow: Flow | None
    plan: RoutingPlan | None
    announcement: str | None
    files: dict[str, str] = field(default_factory=dict)  # "flow"/"routes" -> file name


def profile_name(raw: object, known: Mapping[str, CrisisProfileSpec]) -> str:
    """The profile a request names: a short name declared in the settings."""
    if not isinstance(raw, str) or not PROFILE_NAME.match(raw):
        raise CrisisRefused(
            400, "bad_request", "profile must be a profile name (a-z, 0-9, '-', '_')"
        )
    if raw not in known:
        raise CrisisRefused(404, "unknown_profile", f"no crisis profile named {raw!r}")
    return raw


def inside(folder: Path, name: str) -> Path:
    """``folder/name``, refused unless it stays inside ``folder`` (links resolved)."""
    parts = PurePosixPath(name).parts
    if (
        not name
        or "\x00" in name
        or "\\" in name
        or PurePosixPath(name).is_absolute()
        or PureWindowsPath(name).drive
        or ".." in parts
    ):
        raise CrisisRefused(
            409, "invalid_profile", f"{name!r}: not a file name in the crisis folder"
        )
    base = folder.resolve()
    path = (base / name).resolve()
    if not path.is_relative_to(base):
        raise CrisisRefused(409, "invalid_profile", f"{name!r}: leads out of the crisis folder")
    return path


def _read(folder: Path, name: str) -> str:
    path = inside(folder, name)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise CrisisRefused(
                409, "invalid_profile", f"{name}: larger than {MAX_FILE_BYTES} bytes"
            )
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise CrisisRefused(409, "invalid_profile", f"{name}: cannot read: {reason}") from exc


def _flow(folder: Path, name: str, prompts: set[str]) -> Flow:
    text = _read(folder, name)
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise FlowError(f"{name}: cannot read the flow: {exc}") from exc
    return parse_flow(raw, name, prompts)


def prepare(
    name: str,
    spec: CrisisProfileSpec,
    folder: Path,
    prompts: set[str],
) -> Prepared:
    """Validate every part of the profile; raises ``CrisisRefused`` listing each problem."""
    problems: list[str] = []
    flow: Flow | None = None
    plan: RoutingPlan | None = None
    if not (spec.flow or spec.routes or spec.announcement):
        problems.append(f"profile {name!r}: names no flow, routes or announcement")
    if spec.flow:
        try:
            flow = _flow(folder, spec.flow, prompts)
        except FlowError as exc:
            problems.append(str(exc))
        except CrisisRefused as exc:
            problems.append(exc.message)
    if spec.routes:
        try:
            plan = parse_routes(load_yaml(_read(folder, spec.routes), spec.routes), spec.routes)
        except RoutesConfigError as exc:
            problems.append(str(exc))
        except CrisisRefused as exc:
            problems.append(exc.message)
    if spec.announcement and spec.announcement not in prompts:
        problems.append(f"profile {name!r}: announcement: missing prompt {spec.announcement!r}")
    if problems:
        raise CrisisRefused(
            409,
            "invalid_profile",
            f"crisis profile {name!r} refused, the running flow and routes kept: "
            + "; ".join(problems),
            problems,
        )
    files = {k: v for k, v in (("flow", spec.flow), ("routes", spec.routes)) if v}
    return Prepared(name, flow, plan, spec.announcement, files)
