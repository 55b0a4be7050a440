"""Schemathesis drives the HTTP API from docs/openapi.yaml against the running app.

The app runs on loopback with the real core and database and a stub AMI;
requests are sent anonymously and as each role. Every answer must be a
described status (never a 5xx other than the documented 502), with a JSON
error body where an error is described.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.desk_app import PASSWORD, USERS, running_desk

OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
EXAMPLES = 10
#: the WebSocket needs an upgrade: test_fuzz_websocket.py covers it
SKIPPED = {("GET", "/ws")}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def fuzz_operations(base_url: str, tokens: dict[str, str | None], mode: GenerationMode) -> None:
    """Run in a thread: requests are blocking and the app is on the test's loop."""
    schema = schemathesis.openapi.from_path(OPENAPI)
    http = requests.Session()

    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue
        if mode is GenerationMode.NEGATIVE and not takes_input(operation):
            continue  # nothing to make invalid
        # invalid input is looked at only once past the role check
        roles = tokens if mode is GenerationMode.POSITIVE else ("agent", "supervisor")
        for role in roles:
            fuzz_operation(operation, role, base_url, tokens, mode, http)


def takes_input(operation: Any) -> bool:
    return bool(operation.body) or any(True for _ in operation.iter_parameters())


def fuzz_operation(
    operation: Any,
    role: str,
    base_url: str,
    tokens: dict[str, str | None],
    mode: GenerationMode,
    http: requests.Session,
) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        token = tokens[role]
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        response = case.call(base_url=base_url, session=http, headers=headers)
        case.validate_response(response, checks=CHECKS)
        if operation.path == "/api/logout" and response.status_code == 200:
            tokens[role] = login(http, base_url, role)  # keep fuzzing as that role

    try:
        run()
    except Unsatisfiable:
        # a string path parameter and nothing else: no invalid request to make
        assert mode is GenerationMode.NEGATIVE, operation.label
        print(f"no negative case for {operation.label}")


def login(http: requests.Session, base_url: str, role: str) -> str:
    body = {"username": USERS[role], "password": PASSWORD}
    response = http.post(f"{base_url}/api/login", json=body, timeout=10)
    response.raise_for_status()
    return str(response.json()["token"])


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
async def test_fuzzed_requests_as_every_role_get_described_answers_and_no_server_error(
    tmp_path: Path, mode: GenerationMode
) -> None:
    async with running_desk(tmp_path) as desk:
        tokens: dict[str, str | None] = {"anonymous": None}
        for role in USERS:
            tokens[role] = await desk.login(role)
        await asyncio.to_thread(fuzz_operations, desk.base_url, tokens, mode)
        # the server is still usable afterwards
        async with desk.client.get(
            "/api/me", headers={"Authorization": f"Bearer {tokens['supervisor']}"}
        ) as r:
            assert r.status == 200
