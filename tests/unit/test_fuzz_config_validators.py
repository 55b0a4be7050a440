"""Property-based tests of the IVR flow and routes validators.

Two kinds of input: the shipped files with one part replaced by anything YAML
can hold (a value, a missing key, an extra key), and arbitrary text. Either
the file is accepted or the validator's own error is raised: never a crash.
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cti.routing.config import RoutesConfigError, load_yaml, parse_routes
from ivr.flow import FlowError, load_flow, parse_flow

ROOT = Path(__file__).resolve().parents[2]
FLOW = yaml.safe_load((ROOT / "ivr" / "flows" / "hotline.yaml").read_text(encoding="utf-8"))
ROUTES = yaml.safe_load((ROOT / "cti" / "routing" / "routes.example.yaml").read_text("utf-8"))
FAST = settings(max_examples=200, derandomize=True, deadline=None)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(),  # nan and infinities included
    st.text(max_size=12),
    st.sampled_from(["", "start", "menu", "ready", "mon-fri", "09:00-17:00", "1", "*", "#"]),
)
yamlish = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=8), st.integers(0, 9)), inner, max_size=4),
    ),
    max_leaves=12,
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += paths(child, (*prefix, index))
    return found


@st.composite
def mutated(draw: st.DrawFn, document: Any) -> Any:
    """``document`` with one to three parts replaced, removed or added."""
    doc = copy.deepcopy(document)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths(doc)))
        if not path:
            doc = draw(yamlish)
            continue
        parent = doc
        try:
            for step in path[:-1]:
                parent = parent[step]
            action = draw(st.sampled_from(["replace", "remove", "add"]))
            if action == "replace":
                parent[path[-1]] = draw(yamlish)
            elif action == "remove":
                del parent[path[-1]]
            elif isinstance(parent, dict):
                parent[draw(st.text(max_size=8))] = draw(yamlish)
            else:
                parent.append(draw(yamlish))
        except (KeyError, IndexError, TypeError):
            pass  # an earlier change removed or replaced that part
    return doc


def test_the_shipped_files_are_valid() -> None:
    parse_flow(FLOW, "hotline.yaml")
    parse_routes(ROUTES, "routes.example.yaml")


@FAST
@given(mutated(FLOW))
@example({**FLOW, "start": [FLOW["start"]]})  # a list where a node name goes
@example({**FLOW, "nodes": {**FLOW["nodes"], "x": {"type": ["menu"]}}})
@example({**FLOW, "nodes": {**FLOW["nodes"], "x": {"type": "play", "next": ["x"]}}})
@example({**FLOW, 1: "x", "y": 2})  # unknown keys of mixed types
def test_any_change_to_a_flow_is_accepted_or_a_flow_error(raw: Any) -> None:
    try:
        parse_flow(raw, "flows/x.yaml")
    except FlowError as exc:
        assert str(exc).startswith("flows/x.yaml")


@FAST
@given(mutated(ROUTES))
def test_any_change_to_the_routes_is_accepted_or_a_routes_error(raw: Any) -> None:
    try:
        parse_routes(raw, "routes.yaml")
    except RoutesConfigError as exc:
        assert "routes.yaml" in str(exc)


yaml_text = st.one_of(
    st.text(max_size=200),
    st.builds(lambda doc: yaml.safe_dump(doc, allow_unicode=True), mutated(ROUTES)),
)


@FAST
@given(yaml_text)
@example("version: 1\nversion: 1\n")  # a duplicate key
@example("a: !!python/object:os.system ls\n")  # a tag safe YAML refuses
@example("\t- x")
@example("[" * 200)
def test_any_routes_text_is_accepted_or_a_routes_error(text: str) -> None:
    try:
        parse_routes(load_yaml(text, "routes.yaml"), "routes.yaml")
    except RoutesConfigError as exc:
        assert "routes.yaml" in str(exc)


@FAST
@given(
    st.one_of(
        st.binary(max_size=200),
        st.builds(lambda doc: yaml.safe_dump(doc, allow_unicode=True).encode(), mutated(FLOW)),
    )
)
@example(b"\xff\xfe not UTF-8")
@example(b"nodes: !!binary AAAA\n")
def test_any_flow_file_is_loaded_or_a_flow_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "flow.yaml"
        path.write_bytes(data)
        try:
            load_flow(path)
        except FlowError as exc:
            assert str(path) in str(exc)
