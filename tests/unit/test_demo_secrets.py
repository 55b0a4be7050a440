"""Demo secrets: the supervisor has its own password, every demo customer its own
PIN, all kept in the private demo config file (never in the repository)."""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

import pytest

from cti.auth import verify_password
from cti.config import Settings
from cti.db.models import Customer, User
from cti.db.repository import Repository, create_schema, make_engine
from cti.demo import DEMO_CUSTOMERS, DemoSecrets, seed_demo, write_demo_config

ACCOUNTS = [c.account_number for c in DEMO_CUSTOMERS]


def test_the_demo_config_holds_distinct_secrets_privately(tmp_path: Path) -> None:
    path = write_demo_config(tmp_path / "demo.toml")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    config = tomllib.loads(path.read_text())
    assert config["demo_supervisor_password"] != config["demo_agent_password"]
    pins = config["demo_customer_pins"]
    assert sorted(pins) == sorted(ACCOUNTS)
    assert len(set(pins.values())) == len(ACCOUNTS)
    assert all(p.isascii() and p.isdigit() and len(p) == 4 for p in pins.values())
    os.environ["HOTLINE_CONFIG"] = str(path)
    try:
        settings = Settings()
    finally:
        del os.environ["HOTLINE_CONFIG"]
    DemoSecrets.from_settings(settings).check()


def test_an_older_demo_config_gets_the_missing_secrets(tmp_path: Path) -> None:
    path = tmp_path / "demo.toml"
    path.write_text('# old\nami_secret = "a"\ndemo_agent_password = "agents"\n')
    write_demo_config(path)
    config = tomllib.loads(path.read_text())
    assert config["ami_secret"] == "a" and config["demo_agent_password"] == "agents"
    assert config["demo_supervisor_password"] not in ("", "agents")
    assert len(set(config["demo_customer_pins"].values())) == len(ACCOUNTS)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    before = path.read_text()
    write_demo_config(path)  # complete: left alone
    assert path.read_text() == before


@pytest.mark.parametrize(
    "change",
    [
        {"supervisor_password": "same"},
        {"supervisor_password": ""},
        {"customer_pins": dict.fromkeys(ACCOUNTS, "1357")},
        {"customer_pins": dict(zip(ACCOUNTS, ["١٢٣٤", "١٢٣٥", "١٢٣٦"], strict=True))},
    ],
)
def test_shared_or_weak_demo_secrets_are_refused(change: dict[str, object]) -> None:
    demo = DemoSecrets.generate("same")
    fields = {
        "agent_password": demo.agent_password,
        "supervisor_password": demo.supervisor_password,
        "customer_pins": demo.customer_pins,
        **change,
    }
    with pytest.raises(ValueError):
        DemoSecrets(**fields).check()  # type: ignore[arg-type]


async def test_seeded_supervisor_and_customers_answer_only_to_their_own_secret(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}")
    await create_schema(engine)
    try:
        repository = Repository(engine)
        demo = DemoSecrets.generate("agents-pass")
        await seed_demo(repository, demo)
        supervisor = await repository.user("supervisor")
        agent = await repository.user("1001")
        assert isinstance(supervisor, User) and isinstance(agent, User)
        assert verify_password(demo.supervisor_password, supervisor.password_hash)
        assert not verify_password(demo.agent_password, supervisor.password_hash)
        assert verify_password(demo.agent_password, agent.password_hash)
        for account, pin in demo.customer_pins.items():
            assert await repository.check_pin(account, pin)
            others = [p for a, p in demo.customer_pins.items() if a != account]
            assert not any([await repository.check_pin(account, p) for p in others])
        customer = await repository.customer_by_phone(DEMO_CUSTOMERS[0].phone)
        assert isinstance(customer, Customer)
    finally:
        await engine.dispose()
