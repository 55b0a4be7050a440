"""Load and validate the routes file (YAML); see docs/routing.md for the format.

Every error names the file, the route (when there is one) and the problem::

    routes.yaml: route 'zh-billing': steps[1].requires: expected ')' at column 18
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from cti.routing.model import (
    MATCH_ATTRIBUTES,
    URGENCIES,
    Fairness,
    Overflow,
    PriorityPolicy,
    Requirement,
    RequirementError,
    Route,
    RoutingPlan,
    ServiceLevel,
    Step,
)

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")
_TOP_KEYS = frozenset(
    {"version", "fairness", "rona_pause_reason", "priority", "defaults", "routes"}
)
_ROUTE_KEYS = frozenset(
    {"name", "match", "priority", "ring_timeout_s", "service_level", "steps", "overflow"}
)


class RoutesConfigError(ValueError):
    def __init__(self, source: str, problem: str, route: str | None = None) -> None:
        where = f"{source}: route {route!r}: " if route is not None else f"{source}: "
        super().__init__(where + problem)
        self.source, self.route, self.problem = source, route, problem


class _UniqueKeyLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    result: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node)
        if key in result:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        result[key] = loader.construct_object(value_node)
    return result


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(text: str, source: str) -> Any:
    """Parse YAML, rejecting duplicate keys; errors name ``source`` and the line."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise RoutesConfigError(source, f"not valid YAML{where}: {problem}") from exc


def load_routes(path: str | Path) -> RoutingPlan:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RoutesConfigError(str(path), f"cannot read: {exc.strerror}") from exc
    return parse_routes(load_yaml(text, str(path)), str(path))


def parse_routes(data: Any, source: str = "<routes>") -> RoutingPlan:
    """Validate already-parsed YAML data into a :class:`RoutingPlan`."""
    return _Parser(source).plan(data)


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, problem: str, route: str | None = None) -> RoutesConfigError:
        return RoutesConfigError(self.source, problem, route)

    # ------------------------------------------------------------ top level
    def plan(self, data: Any) -> RoutingPlan:
        if not isinstance(data, Mapping):
            raise self.fail("expected a mapping with 'version' and 'routes'")
        self.keys(data, _TOP_KEYS, "top level")
        if data.get("version") != 1:
            raise self.fail(f"version: expected 1, got {data.get('version')!r}")
        fairness_value = data.get("fairness", Fairness.LONGEST_IDLE.value)
        try:
            fairness = Fairness(fairness_value)
        except ValueError:
            choices = ", ".join(f.value for f in Fairness)
            raise self.fail(f"fairness: {fairness_value!r} is not one of {choices}") from None
        reason = data.get("rona_pause_reason", "rona")
        if not isinstance(reason, str) or not reason.strip():
            raise self.fail("rona_pause_reason: expected a non-empty string")
        priority = self.priority(data.get("priority", {}))
        defaults = data.get("defaults", {})
        if not isinstance(defaults, Mapping):
            raise self.fail("defaults: expected a mapping")
        self.keys(defaults, frozenset({"ring_timeout_s", "service_level"}), "defaults")
        default_ring = self.positive(
            defaults.get("ring_timeout_s", 15.0), "defaults.ring_timeout_s"
        )
        default_sl = self.service_level(defaults.get("service_level", {}), "defaults", None)

        raw_routes = data.get("routes")
        if not isinstance(raw_routes, list) or not raw_routes:
            raise self.fail("routes: expected a non-empty list of routes")
        routes: list[Route] = []
        names: set[str] = set()
        catch_all: str | None = None
        for index, raw in enumerate(raw_routes):
            route = self.route(raw, index, default_ring, default_sl)
            if route.name in names:
                raise self.fail("defined twice", route.name)
            if catch_all is not None:
                raise self.fail(
                    f"unreachable: route {catch_all!r} before it matches every call", route.name
                )
            if not route.match:
                catch_all = route.name
            names.add(route.name)
            routes.append(route)
        self.check_overflows(routes)
        return RoutingPlan(tuple(routes), priority, fairness, reason.strip())

    def keys(
        self, data: Mapping[Any, Any], allowed: frozenset[str], where: str, route: str | None = None
    ) -> None:
        unknown = sorted(str(k) for k in data if k not in allowed)
        if unknown:
            expected = ", ".join(sorted(allowed))
            problem = f"{where}: unknown key {unknown[0]!r} (expected one of {expected})"
            raise self.fail(problem, route)

    def number(self, value: Any, where: str, route: str | None = None) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"{where}: expected a number, got {value!r}", route)
        return float(value)

    def positive(self, value: Any, where: str, route: str | None = None) -> float:
        number = self.number(value, where, route)
        if number <= 0:
            raise self.fail(f"{where}: must be greater than 0, got {value!r}", route)
        return number

    def priority(self, data: Any) -> PriorityPolicy:
        if not isinstance(data, Mapping):
            raise self.fail("priority: expected a mapping")
        self.keys(
            data,
            frozenset(
                {
                    "per_second_waited",
                    "tier",
                    "urgency",
                    "callback",
                    "relaxed_tier",
                    "missed_service_level",
                }
            ),
            "priority",
        )
        defaults = PriorityPolicy()
        per_second = self.number(
            data.get("per_second_waited", defaults.per_second_waited), "priority.per_second_waited"
        )
        if per_second < 0:
            raise self.fail("priority.per_second_waited: must not be negative")
        tiers_raw = data.get("tier", dict(defaults.tier))
        if not isinstance(tiers_raw, Mapping):
            raise self.fail("priority.tier: expected a mapping of tier name to weight")
        tiers = {str(k): self.number(v, f"priority.tier.{k}") for k, v in tiers_raw.items()}
        urgency_raw = data.get("urgency", dict(defaults.urgency))
        if not isinstance(urgency_raw, Mapping):
            raise self.fail("priority.urgency: expected a mapping of 1, 2, 3 to weight")
        urgency: dict[int, float] = {}
        for k, v in urgency_raw.items():
            if k not in URGENCIES:
                raise self.fail(f"priority.urgency: key {k!r} is not an urgency (1, 2 or 3)")
            urgency[int(k)] = self.number(v, f"priority.urgency.{k}")
        callback = self.number(data.get("callback", 0.0), "priority.callback")
        relaxed = self.number(data.get("relaxed_tier", 0.0), "priority.relaxed_tier")
        if relaxed < 0:
            raise self.fail("priority.relaxed_tier: must not be negative")
        missed = self.number(
            data.get("missed_service_level", defaults.missed_service_level),
            "priority.missed_service_level",
        )
        if missed < 0:
            raise self.fail(
                "priority.missed_service_level: must not be negative "
                "(it is the priority a call loses at its service-level threshold)"
            )
        return PriorityPolicy(per_second, tiers, urgency, callback, relaxed, missed)

    def service_level(
        self, data: Any, where: str, route: str | None, default: ServiceLevel | None = None
    ) -> ServiceLevel:
        base = default or ServiceLevel()
        if not isinstance(data, Mapping):
            raise self.fail(f"{where}.service_level: expected a mapping", route)
        self.keys(data, frozenset({"target", "within_s"}), f"{where}.service_level", route)
        target = self.number(data.get("target", base.target), "service_level.target", route)
        if not 0 < target <= 1:
            raise self.fail(
                f"service_level.target: {target!r} is not a share in (0, 1] (80 % is 0.8)", route
            )
        within = self.positive(data.get("within_s", base.within_s), "service_level.within_s", route)
        return ServiceLevel(target, within)

    # ------------------------------------------------------------ one route
    def route(self, raw: Any, index: int, default_ring: float, default_sl: ServiceLevel) -> Route:
        if not isinstance(raw, Mapping):
            raise self.fail(f"routes[{index}]: expected a mapping")
        name = raw.get("name")
        if not isinstance(name, str) or not name or not set(name) <= _NAME_CHARS:
            raise self.fail(
                f"routes[{index}].name: expected letters, digits, '_', '-' or '.', got {name!r}"
            )
        self.keys(raw, _ROUTE_KEYS, "route", name)
        match = self.match(raw.get("match", {}), name)
        steps = self.steps(raw.get("steps"), name)
        overflow: Overflow | None = None
        if "overflow" in raw:
            overflow = self.overflow(raw["overflow"], name, steps[-1].after_s)
        ring = self.positive(raw.get("ring_timeout_s", default_ring), "ring_timeout_s", name)
        route_priority = self.number(raw.get("priority", 0.0), "priority", name)
        sl = self.service_level(raw.get("service_level", {}), "route", name, default_sl)
        return Route(name, steps, match, overflow, ring, route_priority, sl)

    def match(self, data: Any, route: str) -> dict[str, frozenset[str]]:
        if not isinstance(data, Mapping):
            raise self.fail("match: expected a mapping of attribute to value(s)", route)
        result: dict[str, frozenset[str]] = {}
        for attr, raw_values in data.items():
            if attr not in MATCH_ATTRIBUTES:
                raise self.fail(
                    f"match: unknown attribute {attr!r} "
                    f"(expected one of {', '.join(sorted(MATCH_ATTRIBUTES))})",
                    route,
                )
            values = raw_values if isinstance(raw_values, list) else [raw_values]
            if not values:
                raise self.fail(f"match.{attr}: empty list matches no call", route)
            result[attr] = frozenset(self.match_value(attr, v, route) for v in values)
        return result

    def match_value(self, attr: str, value: Any, route: str) -> str:
        if attr == "urgency":
            if isinstance(value, bool) or value not in URGENCIES:
                raise self.fail(f"match.urgency: {value!r} is not 1, 2 or 3", route)
            return str(value)
        if attr == "callback":
            if not isinstance(value, bool):
                raise self.fail(f"match.callback: expected true or false, got {value!r}", route)
            return "true" if value else "false"
        if isinstance(value, bool):
            raise self.fail(
                f'match.{attr}: {value!r} was read as a boolean; quote it (e.g. "no")', route
            )
        if not isinstance(value, str | int) or not str(value) or not set(str(value)) <= _NAME_CHARS:
            raise self.fail(f"match.{attr}: {value!r} is not a plain word", route)
        return str(value)

    def steps(self, data: Any, route: str) -> tuple[Step, ...]:
        if not isinstance(data, list) or not data:
            raise self.fail("steps: expected a non-empty list of {after_s, requires}", route)
        steps: list[Step] = []
        for i, raw in enumerate(data):
            where = f"steps[{i}]"
            if not isinstance(raw, Mapping):
                raise self.fail(f"{where}: expected a mapping with 'requires'", route)
            self.keys(raw, frozenset({"after_s", "requires"}), where, route)
            if i == 0:
                after = self.number(raw.get("after_s", 0), f"{where}.after_s", route)
                if after != 0:
                    raise self.fail(f"{where}.after_s: the first step starts at 0", route)
            else:
                if "after_s" not in raw:
                    raise self.fail(f"{where}.after_s: missing", route)
                after = self.positive(raw["after_s"], f"{where}.after_s", route)
                if after <= steps[-1].after_s:
                    raise self.fail(
                        f"{where}.after_s: {after:g} s is not after the previous step "
                        f"({steps[-1].after_s:g} s)",
                        route,
                    )
            text = raw.get("requires")
            if not isinstance(text, str):
                raise self.fail(f"{where}.requires: expected an expression string", route)
            try:
                requirement = Requirement.parse(text)
            except RequirementError as exc:
                raise self.fail(f"{where}.requires: {exc}", route) from None
            steps.append(Step(after, requirement))
        return tuple(steps)

    def overflow(self, data: Any, route: str, last_step: float) -> Overflow:
        if not isinstance(data, Mapping):
            raise self.fail("overflow: expected a mapping {after_s, to}", route)
        self.keys(data, frozenset({"after_s", "to"}), "overflow", route)
        if "after_s" not in data or "to" not in data:
            raise self.fail("overflow: needs both 'after_s' and 'to'", route)
        after = self.positive(data["after_s"], "overflow.after_s", route)
        if after <= last_step:
            raise self.fail(
                f"overflow.after_s: {after:g} s must be after the last step ({last_step:g} s)",
                route,
            )
        target = data["to"]
        if not isinstance(target, str):
            raise self.fail(f"overflow.to: expected a route name, got {target!r}", route)
        return Overflow(after, target)

    def check_overflows(self, routes: list[Route]) -> None:
        by_name = {r.name: r for r in routes}
        for route in routes:
            seen = [route.name]
            hop = route.overflow
            while hop is not None:
                if hop.to not in by_name:
                    raise self.fail(f"overflow.to: no route named {hop.to!r}", seen[-1])
                if hop.to in seen:
                    chain = " -> ".join([*seen, hop.to])
                    raise self.fail(f"overflow.to: overflow loop {chain}", route.name)
                seen.append(hop.to)
                hop = by_name[hop.to].overflow
