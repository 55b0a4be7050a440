"""The QA scorecard file: validated with errors that name the file, the criterion
and the problem; scoring by weights with critical items."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cti.qa.scorecard import (
    DEFAULT_SCORECARD,
    ScorecardError,
    ScoreRejected,
    load_scorecard,
    parse_scorecard,
    score_call,
)


def card(**criterion: Any) -> dict[str, Any]:
    base = {"id": "greeting", "title": {"en": "Greeting", "zh": "问候"}, "weight": 10}
    return {
        "name": "test",
        "version": 1,
        "sections": [
            {
                "id": "opening",
                "title": {"en": "Opening", "zh": "开场"},
                "criteria": [base | criterion, {**base, "id": "closing", "weight": 30}],
            }
        ],
    }


def test_the_shipped_scorecard_covers_the_service_standards() -> None:
    shipped = load_scorecard(DEFAULT_SCORECARD)
    criteria = shipped.criteria
    assert {"greeting", "identity_before_account", "no_promises_outside_policy", "closing"} <= set(
        criteria
    )
    assert criteria["identity_before_account"].critical
    assert not criteria["greeting"].critical


@pytest.mark.parametrize(
    ("criterion", "message"),
    [
        ({"weight": 0}, "card.yaml: criterion 'greeting': weight: Input should be greater than 0"),
        ({"weight": "heavy"}, "card.yaml: criterion 'greeting': weight:"),
        ({"critical": "maybe"}, "card.yaml: criterion 'greeting': critical:"),
        ({"colour": "red"}, "card.yaml: criterion 'greeting': colour: Extra inputs"),
        (
            {"title": {"en": "Greeting"}},
            "card.yaml: criterion 'greeting': title.zh: Field required",
        ),
        ({"id": "Greeting!"}, "card.yaml: criterion 'Greeting!': id: Value error"),
        ({"id": "closing"}, "card.yaml: criterion 'closing': duplicate id"),
    ],
)
def test_a_bad_criterion_is_named_with_its_problem(criterion: dict[str, Any], message: str) -> None:
    with pytest.raises(ScorecardError) as err:
        parse_scorecard(card(**criterion), "card.yaml")
    assert str(err.value).startswith(message), str(err.value)


def test_a_scorecard_without_sections_or_with_bad_yaml_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ScorecardError, match=r"^card.yaml: sections: List should have at least 1"):
        parse_scorecard({"name": "x", "version": 1, "sections": []}, "card.yaml")
    bad = tmp_path / "card.yaml"
    bad.write_text("name: x\nname: y\n", encoding="utf-8")
    with pytest.raises(ScorecardError, match=r"^card.yaml: not valid YAML.*duplicate key"):
        load_scorecard(bad)
    with pytest.raises(ScorecardError, match=r"^missing.yaml: cannot read"):
        load_scorecard(tmp_path / "missing.yaml")


def test_total_is_points_passed_over_points_applicable() -> None:
    scorecard = parse_scorecard(card(), "card.yaml")
    assert score_call(scorecard, {"greeting": "pass", "closing": "pass"}).total == 100.0
    assert score_call(scorecard, {"greeting": "pass", "closing": "fail"}).total == 25.0
    assert score_call(scorecard, {"greeting": "na", "closing": "fail"}).total == 0.0
    assert score_call(scorecard, {"greeting": "na", "closing": "na"}).total == 0.0


def test_a_failed_critical_criterion_zeroes_the_call() -> None:
    scorecard = parse_scorecard(card(critical=True), "card.yaml")
    score = score_call(scorecard, {"greeting": "fail", "closing": "pass"})
    assert (score.total, score.critical_failed) == (0.0, True)
    score = score_call(scorecard, {"greeting": "pass", "closing": "fail"})
    assert (score.total, score.critical_failed) == (25.0, False)


@pytest.mark.parametrize(
    ("answers", "says"),
    [
        ({"greeting": "pass"}, "no answer for: closing"),
        ({"greeting": "pass", "closing": "pass", "x": "pass"}, "unknown criteria: x"),
        ({"greeting": "pass", "closing": 1}, "pass, fail or na: closing"),
        ("pass", "must be an object"),
    ],
)
def test_answers_that_do_not_fit_are_rejected(answers: Any, says: str) -> None:
    scorecard = parse_scorecard(card(), "card.yaml")
    with pytest.raises(ScoreRejected, match=says):
        score_call(scorecard, answers)
