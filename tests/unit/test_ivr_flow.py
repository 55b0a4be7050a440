"""Flow files: loading, validation errors that name file/node/problem, hours."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from ivr.flow import FlowError, load_flow, parse_flow
from ivr.prompts import prompt_names
from ivr.service import DEFAULT_FLOW

PROMPTS = {"welcome", "menu", "bye"}


def flow(**nodes: dict) -> dict:
    return {"flow": "t", "start": "menu", "nodes": nodes}


def good() -> dict:
    return flow(
        menu={"type": "menu", "prompt": "menu", "choices": {"1": "q"}, "on_fail": "bye"},
        q={"type": "queue", "queue": "billing"},
        bye={"type": "hangup", "prompt": "bye"},
    )


def test_shipped_flow_loads_with_the_rendered_prompts() -> None:
    loaded = load_flow(DEFAULT_FLOW, prompt_names())
    assert loaded.start in loaded.nodes
    assert {n.queue for n in loaded.nodes.values() if n.type == "queue"} >= {
        "billing",
        "technical",
        "account",
        "general",
    }


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda f: f["nodes"]["menu"]["choices"].update({"2": "nowhere"}),
            "node 'menu': leads to unknown node 'nowhere'",
        ),
        (
            lambda f: f["nodes"].update(orphan={"type": "hangup"}),
            "node 'orphan': unreachable from start 'menu'",
        ),
        (
            lambda f: f["nodes"]["bye"].update(prompt="missing-prompt"),
            "node 'bye': missing prompt 'missing-prompt'",
        ),
        (lambda f: f["nodes"]["menu"].update(type="dance"), "node 'menu': unknown type 'dance'"),
        (
            lambda f: f["nodes"]["menu"]["choices"].update({"12": "q"}),
            "choice key '12' is not one DTMF digit",
        ),
        (lambda f: f.update(start="nope"), "start node 'nope' is not defined"),
        (lambda f: f["nodes"]["q"].update(colour="blue"), "node 'q': key 'colour' does not belong"),
    ],
)
def test_errors_name_the_node_and_the_problem(mutate, message: str) -> None:
    raw = good()
    mutate(raw)
    with pytest.raises(FlowError, match="^flows/x.yaml: .*" + message.replace("(", r"\(")):
        parse_flow(raw, "flows/x.yaml", PROMPTS)


def test_loop_with_no_way_out_is_rejected() -> None:
    raw = flow(
        menu={"type": "menu", "prompt": "menu", "choices": {"1": "again"}, "on_fail": "menu"},
        again={"type": "play", "prompt": "welcome", "next": "menu"},
    )
    with pytest.raises(FlowError, match="node 'menu': a loop with no way out"):
        parse_flow(raw, "x.yaml", PROMPTS)


def test_a_loop_with_an_exit_is_fine() -> None:
    raw = good()
    raw["nodes"]["menu"]["choices"]["9"] = "again"
    raw["nodes"]["again"] = {"type": "play", "prompt": "welcome", "next": "menu"}
    assert "again" in parse_flow(raw, "x.yaml", PROMPTS).nodes


def test_load_flow_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    raw = good()
    raw["nodes"]["menu"]["on_fail"] = "ghost"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(FlowError, match=f"^{path}: node 'menu': leads to unknown node 'ghost'"):
        load_flow(path, PROMPTS)
    (tmp_path / "bad.yaml").write_text("nodes: [unclosed")
    with pytest.raises(FlowError, match="cannot read the flow"):
        load_flow(tmp_path / "bad.yaml", PROMPTS)


def test_business_hours_with_time_zone_and_holidays() -> None:
    raw = flow(
        menu={
            "type": "hours",
            "timezone": "Asia/Shanghai",
            "hours": {"mon-fri": "09:00-18:00"},
            "holidays": ["2026-10-01"],
            "open": "q",
            "closed": "bye",
        },
        q={"type": "queue", "queue": "general"},
        bye={"type": "hangup"},
    )
    f = parse_flow(raw, "x.yaml", PROMPTS)
    node = f.nodes["menu"]
    utc = dt.UTC
    assert f.is_open(node, dt.datetime(2026, 11, 25, 2, 0, tzinfo=utc))  # Wed 10:00 Shanghai
    assert not f.is_open(node, dt.datetime(2026, 11, 25, 11, 0, tzinfo=utc))  # Wed 19:00
    assert not f.is_open(node, dt.datetime(2026, 11, 28, 2, 0, tzinfo=utc))  # Saturday
    assert not f.is_open(node, dt.datetime(2026, 10, 1, 2, 0, tzinfo=utc))  # holiday
    raw["nodes"]["menu"]["hours"] = {"mon-fri": "18:00-09:00"}
    with pytest.raises(FlowError, match="close before they open"):
        parse_flow(raw, "x.yaml", PROMPTS)
