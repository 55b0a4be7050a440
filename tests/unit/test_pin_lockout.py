"""Wrong IVR PINs lock the account and the calling number across calls, and a
restart does not reset them (the flow engine on a scripted AGI session, the
real SQLite store)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.auth import hash_password
from cti.db.models import Customer
from cti.db.pin_attempts import PinAttemptStore
from cti.db.repository import Repository, create_schema, make_engine
from ivr.engine import FlowEngine
from ivr.flow import parse_flow
from ivr.lockout import LockoutPolicy, Strikes, pin_keys
from tests.unit.test_ivr_engine import ScriptedAgi

PIN = "4821"
ACCOUNT = "880002"
FLOW = {
    "start": "verify",
    "nodes": {
        "verify": {
            "type": "verify",
            "prompt": "acct",
            "pin_prompt": "pin",
            "invalid_prompt": "again",
            "max_digits": 4,
            "attempts": 3,
            "timeout_s": 3,
            "next": "ok",
            "on_fail": "no",
        },
        "ok": {"type": "queue", "queue": "account"},
        "no": {"type": "queue", "queue": "general"},
    },
}


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}")
    await create_schema(engine)
    await Repository(engine).upsert_customers(
        [
            Customer(
                phone="15550100001", name="A", account_number=ACCOUNT, pin_hash=hash_password(PIN)
            )
        ]
    )
    try:
        yield engine
    finally:
        await engine.dispose()


def flow_engine(db: AsyncEngine, clock: Clock, start: str = "verify") -> FlowEngine:
    nodes: dict[str, Any] = dict(FLOW["nodes"])  # type: ignore[call-overload]
    if start == "lookup":
        nodes["lookup"] = {"type": "lookup", "found": "verify", "not_found": "no"}
    flow = parse_flow({"start": start, "nodes": nodes}, "t.yaml", {"acct", "pin", "again"})
    store = PinAttemptStore(db, LockoutPolicy(max_failures=5, lockout_s=900), clock)
    return FlowEngine(flow, PurePosixPath("/s"), directory=Repository(db), pin_attempts=store)


async def call(flow: FlowEngine, digits: list[str], caller: str = "15550100001") -> Any:
    session = ScriptedAgi(digits)
    session.caller_number = caller
    return await flow.run(session)  # type: ignore[arg-type]


async def test_wrong_pins_across_calls_lock_the_account_even_for_the_right_pin(
    engine: AsyncEngine,
) -> None:
    clock = Clock()
    flow = flow_engine(engine, clock)
    first = await call(flow, [ACCOUNT, "0000", "1111", "2222"])
    assert first.path == "verify=wrong>verify=wrong>verify=wrong>verify=failed>queue=general"
    # another call, from another number (the account counts, not the line)
    second = await call(flow, [ACCOUNT, "3333", "4444"], caller="15550109999")
    assert second.path.startswith("verify=wrong>verify=wrong>verify=locked")
    # the fifth wrong PIN locked the account: the right PIN is not even checked
    third = await call(flow, [ACCOUNT, PIN], caller="15550108888")
    assert third.path == "verify=locked>verify=failed>queue=general"
    # a restart (a new engine and store on the same database) keeps the lock
    again = await call(flow_engine(engine, clock), [ACCOUNT, PIN], caller="15550107777")
    assert again.path == "verify=locked>verify=failed>queue=general"
    # when the lock ends, the right PIN verifies
    clock.now += 901
    later = await call(flow_engine(engine, clock), [ACCOUNT, PIN], caller="15550106666")
    assert later.path == "verify=ok>queue=account"


async def test_one_number_guessing_across_accounts_is_locked(engine: AsyncEngine) -> None:
    clock = Clock()
    flow = flow_engine(engine, clock)
    await call(flow, ["880100", "0000", "0001", "0002"], caller="+88213000000")
    await call(flow, ["880101", "0003", "0004"], caller="+88213000000")
    run = await call(flow, [ACCOUNT, PIN], caller="+88213000000")
    assert run.path == "verify=locked>verify=failed>queue=general"
    # the account itself is not locked for its owner's line
    assert (await call(flow, [ACCOUNT, PIN], caller="15550100001")).queue == "account"


async def test_the_account_is_asked_even_when_the_caller_id_matches_one(
    engine: AsyncEngine,
) -> None:
    """A forged caller ID must not pick the account whose PIN is then guessed."""
    flow = flow_engine(engine, Clock(), start="lookup")
    # the caller's number is the customer's; the caller types another account
    session = ScriptedAgi(["880999", PIN])
    run = await flow.run(session)  # type: ignore[arg-type]
    assert run.path.startswith("lookup=found>verify=wrong")
    assert ("get_data", "/s/en/acct") in session.log
    session = ScriptedAgi([ACCOUNT, PIN])
    run = await flow.run(session)  # type: ignore[arg-type]
    assert run.path == "lookup=found>verify=ok>queue=account"


def test_policy_counts_within_the_window_and_forgets_after_the_lock() -> None:
    policy = LockoutPolicy(max_failures=3, lockout_s=60)
    strikes = Strikes()
    for _ in range(2):
        strikes = policy.after_failure(strikes, 100.0)
    assert not policy.locked(strikes, 100.0)
    strikes = policy.after_failure(strikes, 101.0)
    assert policy.locked(strikes, 101.0) and strikes.locked_until == 161.0
    assert not policy.locked(strikes, 161.5)
    # after the lock a new count starts
    assert policy.after_failure(strikes, 170.0).failures == 1
    # failures older than the window are forgotten
    assert policy.after_failure(Strikes(2, 0.0, 10.0), 100.0).failures == 1


def test_keys_keep_only_ascii_of_a_hostile_number() -> None:
    assert pin_keys("880002", "+86 138\u0661\u0662<x>") == ("account:880002", "caller:+86138x")
    assert pin_keys("", "") == ("caller:anonymous",)
    assert len(pin_keys("1", "9" * 200)[1]) == len("caller:") + 64
