"""``hotline staffing`` on a database of stored CDRs."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime

import pytest

from cti import cli
from cti.db.repository import Repository, create_schema, make_engine
from tests.unit.test_web_supervisor import cdr

DAY = date(2026, 12, 11)


async def store(url: str) -> None:
    engine = make_engine(url)
    await create_schema(engine)
    records = []
    for week in (1, 2, 3):
        past = date.fromordinal(DAY.toordinal() - 7 * week)
        ten = datetime(past.year, past.month, past.day, 10, tzinfo=UTC).timestamp()
        records += [(cdr(f"w{week}-{i}", ten + 30 * i, True, 150.0), None) for i in range(60)]
    await Repository(engine).save_cdrs(records)
    await engine.dispose()


def test_staffing_command_prints_agents_needed_per_interval(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = db_url
    asyncio.run(store(url))
    monkeypatch.setenv("HOTLINE_DATABASE_URL", url)
    monkeypatch.setenv("HOTLINE_STAFFING_TIMEZONE", "UTC")
    monkeypatch.delenv("HOTLINE_CONFIG", raising=False)
    args = ["staffing", "--date", DAY.isoformat(), "--weeks", "3", "--interval", "30"]
    assert cli.main(args) == 0
    text = capsys.readouterr().out
    assert "2026-12-04, 2026-11-27, 2026-11-20" in text
    assert "queue billing: target 80% within 20 s" in text
    [ten] = [line for line in text.splitlines() if line.strip().startswith("10:00")]
    # 60 calls of 150 s in 10:00-10:30: 5 Erlangs
    assert ten.split()[1:4] == ["60.0", "150", "5.00"]
    assert cli.main([*args, "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["queues"][0]["intervals"][20]["agents_c"] == int(ten.split()[4])
    assert cli.main(["staffing", "--weeks", "0"]) == 2
    assert "weeks must be between 1 and 52" in capsys.readouterr().err
