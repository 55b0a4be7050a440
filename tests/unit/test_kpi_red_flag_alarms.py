"""The qa_red_flags alarm: red-flagged calls within its window above a count,
raised and cleared with the alarms' hysteresis, and its rules validated."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from cti.kpi.alarms import AlarmEngine, live_measure
from cti.kpi.calendar import Calendar
from cti.kpi.live import LiveKpis
from cti.kpi.options import AlarmRule, KpiConfigError, KpiOptions, parse_config
from cti.kpi.red_flags import RedFlagLog, TagSeen
from cti.wallboard.feature import load_config

DAY = 1_800_000_000.0 - 1_800_000_000.0 % 86400
T0 = DAY + 10 * 3600  # 10:00 UTC


def flag(call_id: str, at: float, queue: str | None = "billing", tag: str = "complaint") -> TagSeen:
    return TagSeen(call_id, tag, queue, at, red_flag=True)


class Board:
    """The alarm engine judging the red-flag log with the live figures' clock."""

    def __init__(self, *rules: AlarmRule, queues: tuple[str, ...] = ("billing", "general")):
        self.log = RedFlagLog(rules)
        self.engine = AlarmEngine(rules)
        self.live = LiveKpis(KpiOptions(window_s=1800), Calendar("UTC"), T0, queues=queues)
        self.queues = queues

    def judge(self, now: float) -> list[tuple[str, str, bool, float]]:
        changes = self.engine.evaluate(live_measure(self.live, now, self.log), self.queues, now)
        return [(a.rule, a.queue, a.cleared_at is None, a.value) for a in changes]


def rule(**fields: object) -> AlarmRule:
    return AlarmRule.model_validate({"name": "flags", "kind": "qa_red_flags", **fields})


def test_red_flagged_calls_above_the_count_within_the_window_raise_the_alarm() -> None:
    board = Board(rule(queue="all", threshold=2, clear=1, window_s=600))
    board.log.record([flag("c1", T0), flag("c2", T0 + 10, queue=None)])
    assert board.judge(T0 + 20) == []  # two calls: not above 2
    board.log.record([flag("c3", T0 + 30, queue="general")])
    assert board.judge(T0 + 31) == [("flags", "all", True, 3.0)]
    assert board.judge(T0 + 32) == []  # raised once


def test_the_alarm_clears_only_when_the_calls_left_the_window_down_to_the_clear_level() -> None:
    board = Board(rule(queue="all", threshold=2, clear=1, window_s=600))
    board.log.record([flag("c1", T0), flag("c2", T0 + 100), flag("c3", T0 + 200)])
    assert board.judge(T0 + 200) == [("flags", "all", True, 3.0)]
    assert board.judge(T0 + 601) == []  # c1 left the window: 2, below 3 but above clear
    assert ("flags", "all") in board.engine.active
    assert board.judge(T0 + 701) == [("flags", "all", False, 1.0)]  # c2 left too
    assert board.engine.active == {}


def test_a_call_tagged_again_counts_once_and_each_queue_is_judged_alone() -> None:
    board = Board(rule(queue="*", threshold=1, window_s=600))
    board.log.record(
        [
            flag("c1", T0),
            flag("c1", T0 + 5, tag="regulator"),  # the same call, another red flag
            flag("c1", T0 + 60),  # transcribed again
            flag("c2", T0 + 70, queue="general"),
            flag("c3", T0 + 80, queue=None),  # never queued: only "all" counts it
        ]
    )
    assert board.judge(T0 + 90) == []
    board.log.record([flag("c4", T0 + 100)])
    assert board.judge(T0 + 101) == [("flags", "billing", True, 2.0)]


def test_a_rule_counts_the_tags_it_names_or_else_those_the_tag_rules_mark_red() -> None:
    named = rule(name="named", queue="all", threshold=0, tags=["negative_end", "long_silence"])
    marked = rule(name="marked", queue="all", threshold=0)
    board = Board(named, marked)
    plain = TagSeen("c1", "negative_end", "billing", T0, red_flag=False)
    assert board.log.record([plain, TagSeen("c2", "talk_over", None, T0, red_flag=False)])
    assert len(board.log.kept) == 1  # talk_over counts for no rule: not kept
    assert board.judge(T0 + 1) == [("named", "all", True, 1.0)]
    board.log.record([flag("c3", T0 + 2, tag="cancel")])
    assert board.judge(T0 + 3) == [("marked", "all", True, 1.0)]


def test_period_today_counts_from_midnight_and_the_default_window_is_the_kpi_window() -> None:
    today = rule(name="today", queue="all", threshold=1, period="today")
    window = rule(name="window", queue="all", threshold=1)  # window_s: the KPIs' 1800 s
    board = Board(today, window)
    board.log.record([flag("early", DAY + 60), flag("c1", T0 - 1000), flag("c2", T0)])
    assert sorted(board.judge(T0)) == [("today", "all", True, 3.0), ("window", "all", True, 2.0)]
    assert board.judge(T0 + 1000) == [("window", "all", False, 1.0)]


def test_tags_no_rule_looks_back_to_are_forgotten() -> None:
    log = RedFlagLog([rule(threshold=1)])
    log.record([flag("old", T0 - 4000), flag("new", T0)])
    log.forget_before(T0 - 1800)
    assert [t.call_id for t in log.kept] == ["new"]


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"threshold": -1}, "threshold must not be negative"),
        ({"threshold": 3, "clear": 4}, "clear must be at or below"),
        ({"threshold": 3, "window_s": 10}, "greater than or equal to 60"),
        ({"threshold": 3, "window_s": "an hour"}, "valid integer"),
        ({"threshold": 3, "period": "today", "window_s": 600}, "window_s is for period: window"),
        ({"threshold": 3, "tags": ["Complaint!"]}, "should match pattern"),
        ({"threshold": 3, "tags": ["cancel", "cancel"]}, "named twice"),
        ({"kind": "waiting_calls", "threshold": 3, "tags": ["cancel"]}, "only for qa_red_flags"),
        ({"kind": "waiting_calls", "threshold": 3, "window_s": 600}, "only for qa_red_flags"),
    ],
)
def test_bad_rules_are_refused_naming_the_problem(fields: dict[str, object], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        rule(**fields)


def test_the_wallboard_file_names_the_field_of_a_bad_rule() -> None:
    bad = {"alarms": [{"name": "f", "kind": "qa_red_flags", "threshold": 2, "window_s": 5}]}
    with pytest.raises(KpiConfigError, match=r"wallboard.yaml: alarms.0.window_s: "):
        parse_config(bad, "wallboard.yaml")


def test_tags_no_tag_rule_makes_are_refused_with_the_tags_there_are(tmp_path: Path) -> None:
    wallboard = tmp_path / "wallboard.yaml"
    wallboard.write_text(
        "alarms:\n"
        "  - {name: ok, kind: qa_red_flags, threshold: 1, tags: [complaint]}\n"
        "  - {name: typo, kind: qa_red_flags, threshold: 1, tags: [complaint, complain]}\n"
    )
    with pytest.raises(
        KpiConfigError,
        match=r"wallboard.yaml: alarms.1.tags: no tag rule makes complain "
        r"\(the tag rules make: cancel, competitor, complaint, ",
    ):
        load_config(wallboard)
    rules = tmp_path / "tag_rules.yaml"
    rules.write_text("version: 1\nrules:\n  - {tag: complain, silence_over_s: 30}\n")
    with pytest.raises(KpiConfigError, match=r"alarms.0.tags: no tag rule makes complaint "):
        load_config(wallboard, rules)
    rules.write_text("version: 1\nrules: []\n")
    with pytest.raises(KpiConfigError, match=r"its tags cannot be checked: .*rules: expected"):
        load_config(wallboard, rules)


def test_the_shipped_wallboard_file_has_a_red_flag_rule_over_every_call() -> None:
    config = load_config(None)
    (flags,) = [r for r in config.alarms if r.kind == "qa_red_flags"]
    assert (flags.queue, flags.tags, flags.threshold, flags.clear_at) == ("all", (), 2, 1)
