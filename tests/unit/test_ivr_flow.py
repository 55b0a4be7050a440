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
    raw["nodes"]["menu"]["hours"] = {"mon-sun": "00:00-24:00"}  # the whole day, last minute too
    f = parse_flow(raw, "x.yaml", PROMPTS)
    assert f.is_open(f.nodes["menu"], dt.datetime(2026, 11, 25, 15, 59, 30, tzinfo=utc))
    raw["nodes"]["menu"]["hours"] = {"mon-fri": "9am-6pm"}
    with pytest.raises(FlowError, match="bad hours"):
        parse_flow(raw, "x.yaml", PROMPTS)


# ----------------------------------------------------------------------------- new node kinds


def with_endings(**top: object) -> dict:
    raw = good()
    raw["nodes"]["menu"]["choices"].update({"2": "vm", "3": "xfer"})
    raw["nodes"]["vm"] = {
        "type": "voicemail",
        "prompt": "welcome",
        "thanks_prompt": "bye",
        "max_s": 60,
        "silence_s": 3,
    }
    raw["nodes"]["xfer"] = {"type": "transfer", "prompt": "welcome", "target": "+8613800138000"}
    raw.update(top)
    return raw


def test_voicemail_and_transfer_nodes_end_a_flow() -> None:
    loaded = parse_flow(with_endings(), "x.yaml", PROMPTS)
    vm, xfer = loaded.nodes["vm"], loaded.nodes["xfer"]
    assert (vm.prompt, vm.thanks_prompt, vm.max_s, vm.silence_s) == ("welcome", "bye", 60.0, 3.0)
    assert vm.exits() == [] and xfer.exits() == []
    assert xfer.target == "+8613800138000"
    # a loop is fine when it can end in voicemail or a transfer
    raw = flow(
        menu={"type": "menu", "prompt": "menu", "choices": {"1": "menu", "2": "vm"}},
        vm={"type": "voicemail", "prompt": "welcome"},
    )
    assert parse_flow(raw, "x.yaml", PROMPTS).nodes["vm"].max_s == 120.0


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda f: f["nodes"]["xfer"].update(target="12a4"), "transfer target '12a4' is not a"),
        (lambda f: f["nodes"]["xfer"].update(target="1+2"), "transfer target '1+2' is not a"),
        (
            lambda f: f["nodes"]["xfer"].update(target=1003),
            "node 'xfer': quote the transfer target",
        ),
        (lambda f: f["nodes"]["xfer"].pop("target"), "node 'xfer': a transfer node needs 'target'"),
        (lambda f: f["nodes"]["vm"].pop("prompt"), "node 'vm': a voicemail node needs 'prompt'"),
        (lambda f: f["nodes"]["vm"].update(max_s=0), "node 'vm': max_s must be positive"),
        (lambda f: f["nodes"]["vm"].update(silence_s=-1), "node 'vm': silence_s must be positive"),
        (
            lambda f: f["nodes"]["vm"].update(thanks_prompt="nope"),
            "node 'vm': missing prompt 'nope'",
        ),
        (lambda f: f["nodes"]["vm"].update(target="1003"), "key 'target' does not belong"),
    ],
)
def test_voicemail_and_transfer_errors(mutate, message: str) -> None:
    raw = with_endings()
    mutate(raw)
    with pytest.raises(FlowError, match="^flows/x.yaml: .*" + message.replace("+", r"\+")):
        parse_flow(raw, "flows/x.yaml", PROMPTS)


def test_survey_section() -> None:
    loaded = parse_flow(
        with_endings(survey={"prompt": "menu", "thanks_prompt": "bye", "attempts": 3}),
        "x.yaml",
        PROMPTS,
    )
    assert loaded.survey is not None
    assert (loaded.survey.enabled, loaded.survey.attempts, loaded.survey.timeout_s) == (
        True,
        3,
        5.0,
    )
    assert parse_flow(good(), "x.yaml", PROMPTS).survey is None
    off = parse_flow(with_endings(survey={"prompt": "menu", "enabled": False}), "x.yaml", PROMPTS)
    assert off.survey is not None and not off.survey.enabled


@pytest.mark.parametrize(
    ("survey", "message"),
    [
        ({"prompt": "menu", "colour": "red"}, "survey: key 'colour' does not belong to the survey"),
        ({"attempts": 2}, "survey: the survey needs 'prompt'"),
        ({"prompt": "menu", "attempts": 0}, "survey: attempts must be positive"),
        ({"prompt": "menu", "timeout_s": "soon"}, "survey: could not convert"),
        ({"prompt": "menu", "enabled": "yes please"}, "survey: enabled must be true or false"),
        ({"prompt": "menu", "goodbye_prompt": "gone"}, "survey: missing prompt 'gone'"),
        (["menu"], "survey: the survey is a mapping"),
    ],
)
def test_survey_errors_name_the_file_and_the_problem(survey: object, message: str) -> None:
    with pytest.raises(FlowError, match="^flows/x.yaml: " + message):
        parse_flow(with_endings(survey=survey), "flows/x.yaml", PROMPTS)


def test_shipped_flow_takes_voicemail_after_hours_and_runs_the_survey() -> None:
    loaded = load_flow(DEFAULT_FLOW, prompt_names())
    hours = loaded.nodes[loaded.start]
    assert hours.type == "hours"
    assert hours.closed is not None and loaded.nodes[hours.closed].type == "voicemail"
    assert loaded.survey is not None and loaded.survey.enabled
    # every prompt the flow uses exists in both languages
    for language in ("en", "zh"):
        names = prompt_names(language)
        used = [p for n in loaded.nodes.values() for p in n.prompts()] + loaded.survey.prompts()
        assert set(used) <= names, language
