"""Demo data: agents agent 1001-1004 and a handful of customers."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cti.auth import hash_password
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

#: The IVR PIN of every demo customer (demo data only; real PINs are set per customer).
DEMO_PIN = "1357"
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


def write_demo_config(path: Path) -> Path:
    """Create a private config file with fresh secrets, once."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    content = (
        "# hotline demo configuration (generated; keep it private)\n"
        f'ami_secret = "{secrets.token_urlsafe(24)}"\n'
        f'demo_agent_password = "{secrets.token_urlsafe(9)}"\n'
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)
    return path


async def seed_demo(repository: Repository, agent_password: str) -> None:
    if not agent_password:
        raise ValueError("demo_agent_password is empty: set it in the config or environment")
    password_hash = hash_password(agent_password)
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
            password_hash=password_hash,
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
    pin_hash = hash_password(DEMO_PIN)
    await repository.upsert_customers(
        Customer(
            phone=c.phone,
            name=c.name,
            tier=c.tier,
            language=c.language,
            account_number=c.account_number,
            notes=c.notes,
            pin_hash=pin_hash,
        )
        for c in DEMO_CUSTOMERS
    )
