"""IVR flows as data: the model, the loader and the validator. Pure.

A flow file (YAML) names a start node and a map of nodes; each node has a
``type`` and the names of the nodes it leads to. See ``ivr/flows/hotline.yaml``
and docs in README ("IVR flows"). Loading checks every reference, that every
node is reachable, that every prompt exists, and that no loop lacks a way out;
errors name the file, the node and the problem. An optional ``survey:``
section configures the post-call survey (checked the same way).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

TERMINAL_TYPES = frozenset({"queue", "hangup", "voicemail", "transfer"})
#: Identity check: the account number is asked unless the caller's number found it.
DIGITS = frozenset("0123456789*#")
#: A transfer target: an extension or a number, digits with an optional leading "+".
TRANSFER_TARGET = re.compile(r"^\+?[0-9]{1,20}$")


class FlowError(ValueError):
    """A flow file that cannot be run; the message names file, node and problem."""


@dataclass(frozen=True, slots=True)
class Node:
    name: str
    type: str
    next: str | None = None  # play, collect, set, language (after choosing)
    prompt: str | None = None
    invalid_prompt: str | None = None
    choices: Mapping[str, str] = field(default_factory=dict)  # digit -> node (or language)
    timeout_s: float = 5.0
    attempts: int = 3
    on_fail: str | None = None  # menu: after the last failed attempt
    max_digits: int = 1
    variable: str | None = None  # collect: where the digits go
    variables: Mapping[str, str] = field(default_factory=dict)  # set
    queue: str | None = None
    timezone: str = "UTC"
    hours: Mapping[int, tuple[dt.time, dt.time]] = field(default_factory=dict)  # weekday ->
    holidays: frozenset[dt.date] = frozenset()
    open: str | None = None
    closed: str | None = None
    found: str | None = None  # lookup
    not_found: str | None = None  # lookup
    pin_prompt: str | None = None  # verify (prompt asks for the account number)
    thanks_prompt: str | None = None  # voicemail: after the message
    max_s: float = 120.0  # voicemail: longest message
    silence_s: float = 5.0  # voicemail: this much silence ends the message
    target: str | None = None  # transfer: the extension or number dialled

    def exits(self) -> list[str]:
        """Names of the nodes this node can lead to."""
        if self.type == "menu":
            return [*self.choices.values(), *([self.on_fail] if self.on_fail else [])]
        if self.type == "hours":
            return [n for n in (self.open, self.closed) if n]
        if self.type == "lookup":
            return [n for n in (self.found, self.not_found) if n]
        if self.type == "verify":
            return [n for n in (self.next, self.on_fail) if n]
        return [self.next] if self.next else []  # language: its choices are languages

    def prompts(self) -> list[str]:
        return [
            p for p in (self.prompt, self.invalid_prompt, self.pin_prompt, self.thanks_prompt) if p
        ]


@dataclass(frozen=True, slots=True)
class Survey:
    """The post-call survey (the flow file's ``survey:`` section).

    Run by the FastAGI script ``survey`` when the agent hung up first: one
    digit 1-5, ``attempts`` tries of ``timeout_s`` each. With ``nps_prompt``
    a second question follows a valid score: 0-10, "how likely are you to
    recommend us" (keys then '#', or a pause; see ``ivr/nps.py``).
    """

    prompt: str
    enabled: bool = True
    invalid_prompt: str | None = None  # after a wrong key or no key, before the next try
    thanks_prompt: str | None = None  # after a valid score
    goodbye_prompt: str | None = None  # after the last failed try
    attempts: int = 2
    timeout_s: float = 5.0
    nps_prompt: str | None = None  # the optional 0-10 question (NPS)
    nps_invalid_prompt: str | None = None  # after a wrong or no answer to it

    def prompts(self) -> list[str]:
        return [
            p
            for p in (
                self.prompt,
                self.invalid_prompt,
                self.thanks_prompt,
                self.goodbye_prompt,
                self.nps_prompt,
                self.nps_invalid_prompt,
            )
            if p
        ]


@dataclass(frozen=True, slots=True)
class Flow:
    name: str
    start: str
    language: str
    nodes: Mapping[str, Node]
    survey: Survey | None = None

    def is_open(self, node: Node, now: dt.datetime) -> bool:
        """Business hours: ``now`` (aware) in the node's time zone."""
        local = now.astimezone(ZoneInfo(node.timezone))
        if local.date() in node.holidays:
            return False
        span = node.hours.get(local.weekday())
        return span is not None and span[0] <= local.time() < span[1]


_WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_KEYS = {
    "play": {"prompt", "next"},
    "menu": {"prompt", "invalid_prompt", "choices", "timeout_s", "attempts", "on_fail"},
    "collect": {"prompt", "max_digits", "timeout_s", "variable", "next"},
    "language": {"prompt", "choices", "timeout_s", "next"},
    "set": {"variables", "next"},
    "hours": {"timezone", "hours", "holidays", "open", "closed"},
    "queue": {"queue"},
    "lookup": {"found", "not_found"},
    "verify": {
        "prompt",
        "pin_prompt",
        "invalid_prompt",
        "attempts",
        "timeout_s",
        "max_digits",
        "next",
        "on_fail",
    },
    "hangup": {"prompt"},
    "voicemail": {"prompt", "thanks_prompt", "max_s", "silence_s"},
    "transfer": {"prompt", "target"},
}
_SURVEY_KEYS = {
    "enabled",
    "prompt",
    "invalid_prompt",
    "thanks_prompt",
    "goodbye_prompt",
    "attempts",
    "timeout_s",
    "nps_prompt",
    "nps_invalid_prompt",
}


def load_flow(path: Path, prompts: Iterable[str] | None = None) -> Flow:
    """Load and validate a flow file; ``prompts`` are the prompt names that exist."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise FlowError(f"{path}: cannot read the flow: {exc}") from exc
    return parse_flow(raw, str(path), prompts)


def parse_flow(raw: Any, source: str, prompts: Iterable[str] | None = None) -> Flow:
    if not isinstance(raw, dict):
        raise FlowError(f"{source}: a flow is a mapping with 'start' and 'nodes'")
    unknown = set(raw) - {"flow", "start", "language", "nodes", "survey"}
    if unknown:
        raise FlowError(f"{source}: unknown top-level key {sorted(unknown, key=str)[0]!r}")
    nodes_raw = raw.get("nodes")
    if not isinstance(nodes_raw, dict) or not nodes_raw:
        raise FlowError(f"{source}: 'nodes' must be a non-empty mapping")
    nodes = {str(name): _node(source, str(name), spec) for name, spec in nodes_raw.items()}
    start = raw.get("start")
    if not isinstance(start, str) or start not in nodes:
        raise FlowError(f"{source}: start node {start!r} is not defined")
    flow = Flow(
        str(raw.get("flow", Path(source).stem)),
        str(start),
        str(raw.get("language", "en")),
        nodes,
        _survey(source, raw["survey"]) if raw.get("survey") is not None else None,
    )
    validate(flow, source, prompts)
    return flow


def _survey(source: str, spec: Any) -> Survey:
    where = f"{source}: survey"
    if not isinstance(spec, dict):
        raise FlowError(f"{where}: the survey is a mapping with at least 'prompt'")
    extra = set(spec) - _SURVEY_KEYS
    if extra:
        raise FlowError(f"{where}: key {sorted(extra, key=str)[0]!r} does not belong to the survey")
    fields: dict[str, Any] = dict(spec)
    if not fields.get("prompt"):
        raise FlowError(f"{where}: the survey needs 'prompt'")
    if "enabled" in fields and not isinstance(fields["enabled"], bool):
        raise FlowError(f"{where}: enabled must be true or false")
    try:
        for number, kind_of in (("timeout_s", float), ("attempts", int)):
            if number in fields:
                fields[number] = kind_of(fields[number])
                if fields[number] <= 0:
                    raise FlowError(f"{where}: {number} must be positive")
        for key in (
            "prompt",
            "invalid_prompt",
            "thanks_prompt",
            "goodbye_prompt",
            "nps_prompt",
            "nps_invalid_prompt",
        ):
            if fields.get(key) is not None:
                if not isinstance(fields[key], str) or not fields[key]:
                    raise FlowError(f"{where}: {key} must be a prompt name")
                fields[key] = str(fields[key])
        if fields.get("nps_invalid_prompt") and not fields.get("nps_prompt"):
            raise FlowError(f"{where}: nps_invalid_prompt needs nps_prompt")
        return Survey(**fields)
    except FlowError:
        raise
    except (TypeError, ValueError) as exc:
        raise FlowError(f"{where}: {exc}") from exc


#: node fields that name a node, a prompt, a variable or a queue
_TEXT_FIELDS = frozenset(
    {"next", "prompt", "invalid_prompt", "on_fail", "variable", "queue", "open", "closed"}
    | {"found", "not_found", "pin_prompt", "thanks_prompt"}
)


def _node(source: str, name: str, spec: Any) -> Node:
    where = f"{source}: node {name!r}"
    if not isinstance(spec, dict) or "type" not in spec:
        raise FlowError(f"{where}: a node is a mapping with a 'type'")
    kind = spec["type"]
    if not isinstance(kind, str) or kind not in _KEYS:
        raise FlowError(f"{where}: unknown type {kind!r} (one of {', '.join(sorted(_KEYS))})")
    extra = set(spec) - _KEYS[kind] - {"type"}
    if extra:
        raise FlowError(
            f"{where}: key {sorted(extra, key=str)[0]!r} does not belong to a {kind} node"
        )
    try:
        fields: dict[str, Any] = {k: v for k, v in spec.items() if k != "type"}
        for key in _TEXT_FIELDS & set(fields):
            if fields[key] is not None and not isinstance(fields[key], str):
                raise FlowError(f"{where}: {key} must be text, got {fields[key]!r}")
        if "choices" in fields:
            choices = {str(k): str(v) for k, v in dict(fields["choices"]).items()}
            bad = [k for k in choices if len(k) != 1 or k not in DIGITS]
            if bad:
                raise FlowError(f"{where}: choice key {bad[0]!r} is not one DTMF digit")
            fields["choices"] = choices
        if "variables" in fields:
            fields["variables"] = {str(k): str(v) for k, v in dict(fields["variables"]).items()}
        if "hours" in fields:
            fields["hours"] = _hours(where, fields["hours"])
        if "holidays" in fields:
            fields["holidays"] = frozenset(
                dt.date.fromisoformat(str(d)) for d in fields["holidays"]
            )
        for number, kind_of in (
            ("timeout_s", float),
            ("attempts", int),
            ("max_digits", int),
            ("max_s", float),
            ("silence_s", float),
        ):
            if number in fields:
                fields[number] = kind_of(fields[number])
                if fields[number] <= 0:
                    raise FlowError(f"{where}: {number} must be positive")
        if "timezone" in fields:
            ZoneInfo(str(fields["timezone"]))
        if "target" in fields:
            if not isinstance(fields["target"], str):
                # YAML reads 0123 as octal and +86... as an integer
                raise FlowError(
                    f'{where}: quote the transfer target (target: "{fields["target"]}"): '
                    "an unquoted number loses a leading '+' or '0'"
                )
            if not TRANSFER_TARGET.match(fields["target"]):
                raise FlowError(
                    f"{where}: transfer target {fields['target']!r} is not a number "
                    "(digits, an optional leading '+')"
                )
        node = Node(name=name, type=kind, **fields)
    except FlowError:
        raise
    except (TypeError, ValueError, ZoneInfoNotFoundError) as exc:
        raise FlowError(f"{where}: {exc}") from exc
    required = {
        "menu": ("prompt", "choices"),
        "collect": ("prompt", "variable", "next"),
        "language": ("prompt", "choices", "next"),
        "play": ("prompt", "next"),
        "set": ("variables", "next"),
        "hours": ("open", "closed", "hours"),
        "queue": ("queue",),
        "lookup": ("found", "not_found"),
        "verify": ("prompt", "pin_prompt", "next", "on_fail"),
        "voicemail": ("prompt",),
        "transfer": ("target",),
    }.get(kind, ())
    for key in required:
        if not getattr(node, key):
            raise FlowError(f"{where}: a {kind} node needs {key!r}")
    return node


def _hours(where: str, raw: Any) -> dict[int, tuple[dt.time, dt.time]]:
    """{"mon-fri": "09:00-18:00", "sat": "10:00-14:00"} -> weekday -> (open, close)."""
    out: dict[int, tuple[dt.time, dt.time]] = {}
    for days, span in dict(raw).items():
        first, _, last = str(days).lower().partition("-")
        if first not in _WEEKDAYS or (last and last not in _WEEKDAYS):
            raise FlowError(f"{where}: bad day range {days!r} (use mon..sun, e.g. mon-fri)")
        opens, _, closes = str(span).partition("-")
        try:
            start = dt.time.fromisoformat(opens.strip())
            # "24:00" closes at the end of the day (the last minute included)
            end = (
                dt.time.max if closes.strip() == "24:00" else dt.time.fromisoformat(closes.strip())
            )
        except ValueError:
            raise FlowError(f"{where}: bad hours {span!r} (use HH:MM-HH:MM)") from None
        if end <= start:
            raise FlowError(f"{where}: hours {span!r} close before they open")
        lo, hi = _WEEKDAYS[first], _WEEKDAYS[last or first]
        for day in range(lo, hi + 1):
            out[day] = (start, end)
    return out


def validate(flow: Flow, source: str, prompts: Iterable[str] | None) -> None:
    nodes = flow.nodes
    for node in nodes.values():
        for target in node.exits():
            if target not in nodes:
                raise FlowError(f"{source}: node {node.name!r}: leads to unknown node {target!r}")
    if prompts is not None:
        known = set(prompts)
        for node in nodes.values():
            for prompt in node.prompts():
                if prompt not in known:
                    raise FlowError(f"{source}: node {node.name!r}: missing prompt {prompt!r}")
        if flow.survey is not None:
            for prompt in flow.survey.prompts():
                if prompt not in known:
                    raise FlowError(f"{source}: survey: missing prompt {prompt!r}")
    reachable = _reachable(flow, [flow.start])
    for name in nodes:
        if name not in reachable:
            raise FlowError(f"{source}: node {name!r}: unreachable from start {flow.start!r}")
    for name in nodes:
        ends = _reachable(flow, [name])
        if not any(nodes[n].type in TERMINAL_TYPES for n in ends):
            raise FlowError(
                f"{source}: node {name!r}: a loop with no way out "
                "(no queue, hangup, voicemail or transfer reachable)"
            )


def _reachable(flow: Flow, starts: list[str]) -> set[str]:
    seen: set[str] = set()
    stack = list(starts)
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        node = flow.nodes[name]
        stack.extend(node.exits())
    return seen
