"""Who Asterisk takes a SIP request for, on the real Asterisk.

The trunk is known by its address only: a caller elsewhere on the network
(127.0.0.2 here) who writes ``sip:trunk@...`` in From is nobody and gets no
call. An agent's own request without credentials is challenged (401) or
refused (403), never a server error.
"""

from __future__ import annotations

import asyncio
import secrets
import socket

import pytest

from tests.support.pbx_fixture import Pbx
from tests.support.sipp import place_call

pytestmark = pytest.mark.asterisk

ELSEWHERE = "127.0.0.2"  # another host on the network, as far as Asterisk can tell


async def test_a_caller_from_another_address_posing_as_the_trunk_gets_no_call(pbx: Pbx) -> None:
    posing = await place_call(
        pbx.settings.sip_port,
        caller_number="trunk",
        local_host=ELSEWHERE,
        dtmf="",
        talk_s=1.0,
        timeout=15,
    )
    assert not posing.answered, posing.describe()
    # the same call from the trunk's address is answered: the test can tell them apart
    genuine = await place_call(pbx.settings.sip_port, caller_number="trunk", dtmf="", talk_s=1.0)
    assert genuine.answered, genuine.describe()


def _sip_request(method: str, user: str, sip_port: int, local_host: str) -> int:
    """Send one ``method`` as ``user`` over UDP; the final status code Asterisk answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((local_host, 0))
        sock.settimeout(5)
        port = sock.getsockname()[1]
        tag, branch, call_id = secrets.token_hex(4), secrets.token_hex(6), secrets.token_hex(8)
        uri = f"sip:127.0.0.1:{sip_port}"
        message = (
            f"{method} {uri} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {local_host}:{port};branch=z9hG4bK{branch};rport\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:{user}@127.0.0.1>;tag={tag}\r\n"
            f"To: <sip:{user}@127.0.0.1>\r\n"
            f"Call-ID: {call_id}\r\n"
            f"CSeq: 1 {method}\r\n"
            f"Contact: <sip:{user}@{local_host}:{port}>\r\n"
            "Expires: 60\r\n"
            "Content-Length: 0\r\n\r\n"
        )
        sock.sendto(message.encode(), ("127.0.0.1", sip_port))
        while True:
            data = sock.recv(65535).decode("utf-8", "replace")
            status = int(data.split(" ", 2)[1])
            if status >= 200:
                return status


@pytest.mark.parametrize("local_host", ["127.0.0.1", ELSEWHERE])
async def test_an_agent_registering_without_credentials_is_challenged_not_a_server_error(
    pbx: Pbx, local_host: str
) -> None:
    status = await asyncio.to_thread(
        _sip_request, "REGISTER", "agent1001", pbx.settings.sip_port, local_host
    )
    assert status in (401, 403), status
