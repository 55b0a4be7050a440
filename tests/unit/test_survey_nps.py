"""The survey's optional 0-10 question (NPS): the flow option, DTMF edge cases,
the variable the CTI follows, the CDR, storage and the KPI from storage."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import PurePosixPath
from typing import Any

import pytest

from cti import dialplan
from cti.ami.translate import translate
from cti.db.repository import Repository, create_schema, make_engine
from cti.domain import events as ev
from cti.domain.callcenter import CallCenter
from cti.domain.model import Disposition
from cti.kpi.book import CallBook
from cti.kpi.facts import fact_of_cdr
from cti.kpi.figures import Counters, figures
from cti.kpi.options import KpiOptions
from cti.wallboard.store import WallboardStore
from ivr.engine import SurveyRunner
from ivr.flow import FlowError, parse_flow
from ivr.nps import parse_nps
from tests.support.call_records import cdr

ROOT = PurePosixPath("/sounds")
PROMPTS = {"rate", "rate-again", "thanks", "bye", "nps", "nps-again"}
SURVEY = {
    "prompt": "rate",
    "invalid_prompt": "rate-again",
    "thanks_prompt": "thanks",
    "goodbye_prompt": "bye",
    "attempts": 2,
    "timeout_s": 4,
    "nps_prompt": "nps",
    "nps_invalid_prompt": "nps-again",
}
QUEUE_ONLY = {"q": {"type": "queue", "queue": "billing"}}


def flow(**survey: Any) -> Any:
    return parse_flow(
        {"start": "q", "nodes": QUEUE_ONLY, "survey": {**SURVEY, **survey}}, "t.yaml", PROMPTS
    )


class Keys:
    """Stands in for AgiSession: each GET DATA answers the next scripted keys."""

    def __init__(self, keys: Iterable[str]) -> None:
        self.keys = list(keys)
        self.variables: dict[str, str] = {}
        self.log: list[tuple[str, ...]] = []

    async def get_variable(self, name: str) -> str | None:
        return None

    async def set_variable(self, name: str, value: str) -> None:
        self.variables[name] = value

    async def get_data(self, prompt: str, timeout_ms: int, max_digits: int) -> tuple[str, bool]:
        self.log.append(("get_data", prompt, str(max_digits)))
        keys = self.keys.pop(0) if self.keys else ""
        return keys, not keys

    async def stream_file(self, prompt: str, escape_digits: str = '""') -> None:
        self.log.append(("play", prompt))


# ------------------------------------------------------------------ DTMF
@pytest.mark.parametrize(
    ("keys", "answer"),
    [("0", 0), ("6", 6), ("9", 9), ("10", 10), ("10#", 10), ("7#", 7), ("0#", 0)],
)
def test_zero_to_ten_are_answers_with_or_without_the_hash(keys: str, answer: int) -> None:
    assert parse_nps(keys) == answer


@pytest.mark.parametrize(
    "keys",
    ["", "#", "*", "11", "01", "00", "100", "1*", "*5", "ab", "5a", " 5", "\uff15", "-1", "10##"],
)
def test_nothing_eleven_stars_letters_and_odd_keys_are_no_answer(keys: str) -> None:
    assert parse_nps(keys) is None


# ------------------------------------------------------------------ the flow option
def test_the_validator_accepts_the_nps_option_and_lists_its_prompts() -> None:
    survey = flow().survey
    assert survey.nps_prompt == "nps" and survey.nps_invalid_prompt == "nps-again"
    assert {"nps", "nps-again"} <= set(survey.prompts())
    assert flow(nps_prompt=None, nps_invalid_prompt=None).survey.nps_prompt is None


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"nps_prompt": "missing"}, "t.yaml: survey: missing prompt 'missing'"),
        ({"nps_prompt": 5}, "t.yaml: survey: nps_prompt must be a prompt name"),
        ({"nps_prompt": None}, "t.yaml: survey: nps_invalid_prompt needs nps_prompt"),
        ({"nps_question": "nps"}, "t.yaml: survey: key 'nps_question' does not belong"),
    ],
)
def test_a_bad_nps_option_is_refused_naming_file_and_problem(
    change: dict[str, Any], problem: str
) -> None:
    with pytest.raises(FlowError, match=problem):
        flow(**change)


# ------------------------------------------------------------------ the survey run
async def test_after_the_score_the_caller_keys_ten_and_it_is_set() -> None:
    session = Keys(["4", "10"])
    result = await SurveyRunner(flow(), ROOT, frozenset({"en"})).run(session)  # type: ignore[arg-type]
    assert (result.score, result.nps) == (4, 10)
    assert session.variables == {dialplan.SURVEY: "4", dialplan.NPS: "10"}
    assert ("get_data", "/sounds/en/nps", "2") in session.log  # two keys read: "10"
    assert session.log[-1] == ("play", "/sounds/en/thanks")


async def test_a_wrong_nps_answer_is_asked_again_then_taken() -> None:
    session = Keys(["5", "11", "9"])
    result = await SurveyRunner(flow(), ROOT, frozenset({"en"})).run(session)  # type: ignore[arg-type]
    assert result.nps == 9
    asked = [e[1] for e in session.log if e[0] == "get_data"]
    assert asked == ["/sounds/en/rate", "/sounds/en/nps", "/sounds/en/nps-again"]


@pytest.mark.parametrize("keys", [["", ""], ["*", "#"], ["11", "01"]])
async def test_no_valid_nps_answer_sets_nothing_and_still_thanks(keys: list[str]) -> None:
    session = Keys(["3", *keys])
    result = await SurveyRunner(flow(), ROOT, frozenset({"en"})).run(session)  # type: ignore[arg-type]
    assert (result.score, result.nps) == (3, None)
    assert dialplan.NPS not in session.variables
    assert session.log[-1] == ("play", "/sounds/en/thanks")


async def test_without_the_option_or_without_a_score_no_nps_question_is_asked() -> None:
    plain = Keys(["4", "10"])
    no_option = flow(nps_prompt=None, nps_invalid_prompt=None)
    result = await SurveyRunner(no_option, ROOT, frozenset({"en"})).run(plain)  # type: ignore[arg-type]
    assert result.nps is None and [e for e in plain.log if e[0] == "get_data"] == [
        ("get_data", "/sounds/en/rate", "1")
    ]
    silent = Keys(["", ""])
    result = await SurveyRunner(flow(), ROOT, frozenset({"en"})).run(silent)  # type: ignore[arg-type]
    assert (result.score, result.nps) == (None, None)
    assert all("nps" not in e[1] for e in silent.log)


# ------------------------------------------------------------------ the CTI side
def test_the_cti_takes_only_zero_to_ten_from_the_variable() -> None:
    e = {"Event": "VarSet", "Uniqueid": "1", "Linkedid": "1", "Variable": dialplan.NPS}
    assert translate(e | {"Value": "10"}, 0, dialplan.INBOUND_CONTEXTS) == [ev.NpsAnswered("1", 10)]
    assert translate(e | {"Value": "0"}, 0, dialplan.INBOUND_CONTEXTS) == [ev.NpsAnswered("1", 0)]
    for junk in ("11", "-1", "", "x", "010", "1 0"):
        assert translate(e | {"Value": junk}, 0, dialplan.INBOUND_CONTEXTS) == []


def test_the_answer_reaches_the_calls_cdr_and_its_kpi_fact() -> None:
    core = CallCenter(("billing",))
    core.apply(ev.CallStarted("c1", "PJSIP/trunk-1", "15550100001", "", 0.0))
    core.apply(ev.CallQueued("c1", "billing", 1, 1.0))
    assert core.apply(ev.NpsAnswered("c1", 99)) == []  # out of range: ignored
    core.apply(ev.NpsAnswered("c1", 9))
    effects = core.apply(ev.CallEnded("c1", 5.0, "Normal"))
    (record,) = [e.cdr for e in effects if hasattr(e, "cdr")]
    assert record.nps_score == 9
    fact = fact_of_cdr(record)
    assert fact is not None and fact.nps_score == 9


# ------------------------------------------------------------------ storage
async def test_nps_answers_are_stored_per_call_and_the_kpi_from_storage_matches(
    db_url: str,
) -> None:
    engine = make_engine(db_url)
    try:
        await create_schema(engine)
        repository = Repository(engine)
        answers = {"p1": 10, "p2": 9, "d1": 0, "d2": 6, "n1": 7, "none": None}
        records = [
            dataclasses.replace(cdr(call_id), nps_score=score, disposition=Disposition.ANSWERED)
            for call_id, score in answers.items()
        ]
        await repository.save_cdrs([(r, None) for r in records])
        for call_id, score in answers.items():
            row = await repository.cdr(call_id)
            assert row is not None and row.nps_score == score
        stored = await WallboardStore(engine).facts(
            records[0].queued_at - 1, records[0].ended_at + 1
        )
    finally:
        await engine.dispose()

    def nps_of(facts: list[Any]) -> dict[str, Any]:
        book = CallBook(KpiOptions())
        for fact in facts:
            book.put(fact)
        counters = Counters()
        for call_id in book.facts:
            counters.add(book.contribution(call_id))
        return figures(counters)

    live = nps_of([fact_of_cdr(r) for r in records])
    from_storage = nps_of(stored)
    assert live["nps"] == from_storage["nps"] == round(100 * (2 - 2) / 5, 1)
    assert live["nps_answers"] == from_storage["nps_answers"] == 5
