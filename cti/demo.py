"""Demo data: agents agent 1001-1004 and a handful of customers."""

from __future__ import annotations

import json
import os
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cti.auth import hash_password
from cti.config import Settings
from cti.db.models import Customer, User
from cti.db.repository import Repository

# agent id: (name, app_queue queues (used when the CTI is away), router skills)
DEMO_AGENTS = {
    "1001": (
        "Li Na",
        "general,billing,technical,account",
        "lang.zh:5,lang.en:4,billing:4,technical:3,security:3",
    ),
    "1002": (
        "John Smith",
        "general,billing,technical,account",
        "lang.en:5,billing:4,technical:4,security:4",
    ),
    "1003": ("Wang Wei", "general,billing", "lang.zh:5,billing:4"),
    "1004": ("Emma Brown", "general,technical,account", "lang.en:5,technical:4,security:3"),
}

#: where the demo supervisor's phone answers (supervisor9001's contact in pjsip.conf)
DEMO_SUPERVISOR_PHONE_PORT = 59001

DEMO_CUSTOMERS = [
    Customer(
        phone="13800138000",
        name="张伟",
        tier="platinum",
        language="zh",
        account_number="880001",
        notes="Prefers Mandarin. Express shipping included.",
    ),
    Customer(
        phone="15550100001",
        name="Alice Johnson",
        tier="gold",
        language="en",
        account_number="880002",
        notes="Open ticket: refund for order 4411.",
    ),
    Customer(
        phone="15550100002",
        name="Bob Miller",
        tier="standard",
        language="en",
        account_number="880003",
        notes="",
    ),
]


#: Digits of a generated demo customer PIN.
PIN_DIGITS = 4


class DemoSecretsError(ValueError):
    """The demo's secrets are missing, shared or weak (the message says which)."""


@dataclass(frozen=True, slots=True)
class DemoSecrets:
    """The demo's own secrets: kept in the private demo config file, never in the repo."""

    agent_password: str
    supervisor_password: str
    customer_pins: Mapping[str, str]  # account number -> PIN

    @classmethod
    def generate(cls, agent_password: str | None = None) -> DemoSecrets:
        return cls(
            agent_password or secrets.token_urlsafe(9),
            secrets.token_urlsafe(12),
            _distinct_pins([c.account_number or "" for c in DEMO_CUSTOMERS]),
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> DemoSecrets:
        return cls(
            settings.demo_agent_password.get_secret_value(),
            settings.demo_supervisor_password.get_secret_value(),
            dict(settings.demo_customer_pins),
        )

    def check(self) -> None:
        """Refuse empty or shared passwords and missing, weak or repeated PINs."""
        if not self.agent_password:
            raise DemoSecretsError(
                "demo_agent_password is empty: set it in the config or environment"
            )
        if not self.supervisor_password or self.supervisor_password == self.agent_password:
            raise DemoSecretsError(
                "demo_supervisor_password must be set and differ from demo_agent_password"
            )
        accounts = [c.account_number or "" for c in DEMO_CUSTOMERS]
        pins = [self.customer_pins.get(a, "") for a in accounts]
        for account, pin in zip(accounts, pins, strict=True):
            if not (len(pin) >= PIN_DIGITS and pin.isascii() and pin.isdigit()):
                raise DemoSecretsError(
                    f"demo_customer_pins: account {account} needs a PIN of {PIN_DIGITS}+ digits"
                )
        if len(set(pins)) != len(pins):
            raise DemoSecretsError("demo_customer_pins: every demo customer needs a PIN of its own")


def _distinct_pins(accounts: list[str]) -> dict[str, str]:
    pins: dict[str, str] = {}
    while len(set(pins.values())) < len(accounts):
        pins = {
            a: "".join(secrets.choice("0123456789") for _ in range(PIN_DIGITS)) for a in accounts
        }
    return pins


def _toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string of these characters is a TOML basic string


def write_demo_config(path: Path) -> Path:
    """Create a private config file with fresh secrets, once; add what an older one lacks.

    The file (mode 0600) holds the AMI secret, the agents' password, the
    supervisor's own password and one PIN per demo customer.
    """
    fresh = DemoSecrets.generate()
    if path.exists():
        existing = tomllib.loads(path.read_text(encoding="utf-8"))
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        top: list[str] = []
        if "demo_supervisor_password" not in existing:
            top.append(f"demo_supervisor_password = {_toml_string(fresh.supervisor_password)}\n")
        if top:
            lines[1:1] = top  # after the header comment, before any table
        if "demo_customer_pins" not in existing:
            lines.append("\n" + _pins_table(fresh.customer_pins))
        if top or "demo_customer_pins" not in existing:
            _write_private(path, "".join(lines), replace=True)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    content = (
        "# hotline demo configuration (generated; keep it private)\n"
        f"ami_secret = {_toml_string(secrets.token_urlsafe(24))}\n"
        f"demo_agent_password = {_toml_string(fresh.agent_password)}\n"
        f"demo_supervisor_password = {_toml_string(fresh.supervisor_password)}\n"
        "\n" + _pins_table(fresh.customer_pins)
    )
    _write_private(path, content, replace=False)
    return path


def _pins_table(pins: Mapping[str, str]) -> str:
    rows = "".join(f"{_toml_string(a)} = {_toml_string(p)}\n" for a, p in pins.items())
    return "# IVR PIN of each demo customer (account number = PIN)\n[demo_customer_pins]\n" + rows


def _write_private(path: Path, content: str, *, replace: bool) -> None:
    target = path.with_name(f".{path.name}.tmp") if replace else path
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(content)
    if replace:
        target.replace(path)


async def seed_demo(repository: Repository, demo: DemoSecrets) -> None:
    demo.check()
    password_hash = hash_password(demo.agent_password)
    users = [
        User(
            username=agent_id,
            display_name=name,
            password_hash=password_hash,
            role="agent",
            interface=f"PJSIP/agent{agent_id}",
            queues=queues,
            skills=skills,
            wrap_up_s=0.0,
        )
        for agent_id, (name, queues, skills) in DEMO_AGENTS.items()
    ]
    users.append(
        User(
            username="supervisor",
            display_name="Supervisor",
            password_hash=hash_password(demo.supervisor_password),
            role="supervisor",
            # the supervisor's phone, rung for listen / whisper / barge
            interface="PJSIP/supervisor9001",
            queues="",
        )
    )
    users.append(
        User(
            username="qa",
            display_name="QA reviewer",
            password_hash=password_hash,
            role="qa",
            queues="",
        )
    )
    await repository.upsert_users(users)
    await repository.upsert_customers(
        Customer(
            phone=c.phone,
            name=c.name,
            tier=c.tier,
            language=c.language,
            account_number=c.account_number,
            notes=c.notes,
            pin_hash=hash_password(demo.customer_pins[c.account_number or ""]),
        )
        for c in DEMO_CUSTOMERS
    )
