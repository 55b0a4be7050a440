"""Who Asterisk takes a SIP request for, on the real Asterisk.

The trunk is known by its address only: a caller elsewhere on the network
(127.0.0.2 here) who writes ``sip:trunk@...`` in From is nobody and gets no
call.
"""

from __future__ import annotations

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
