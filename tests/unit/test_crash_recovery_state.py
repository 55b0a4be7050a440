"""What a crash of the CTI must not lose: a call adopted after a restart keeps its
recording, IVR path, queue and caller name; a recovered CDR points at its
recording and voicemail; a disposition answered "pending" survives a restart."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from panoramisk.message import Message

from cti.ami.chanvars import channel_variables, clean_callerid
from cti.db.backfill import calls_from, parse_lines
from cti.db.repository import AgentDisposition, Repository, create_schema, make_engine
from cti.domain import effects as fx
from cti.domain import events as ev
from cti.domain.callcenter import CallCenter, PbxChannel, PbxSnapshot
from cti.domain.model import Disposition
from tests.support.call_records import cdr
from tests.unit.test_cdr_backfill import line
from tests.unit.test_web_desktop import Desk, desk  # noqa: F401  (fixture)

REC = "/var/spool/asterisk/monitor/hotline/1764000000.5.wav"


def answered_by_1001(uniqueid: str, channel: str) -> str:
    """The CDR line of a call agent 1001 talked on for 40 s (its channel's number)."""
    return line(
        uniqueid=uniqueid,
        linkedid=uniqueid,
        dstchannel=f"PJSIP/agent1001-{channel}",
        billsec=40,
    )


def test_core_show_channel_carries_the_calls_variables() -> None:
    frame = "\r\n".join(
        [
            "Event: CoreShowChannel",
            "Channel: PJSIP/trunk-00000005",
            "CallerIDName: <unknown>",
            "ChanVariable: HOTLINE_QUEUE=billing",
            "ChanVariable: HOTLINE_IVR_PATH=open>lang=en>menu=1>queue=billing",
            f"ChanVariable: HOTLINE_RECORDING={REC}",
        ]
    )
    message = Message.from_line(frame)
    assert message is not None
    found = channel_variables(message)
    assert found == {
        "HOTLINE_QUEUE": "billing",
        "HOTLINE_IVR_PATH": "open>lang=en>menu=1>queue=billing",
        "HOTLINE_RECORDING": REC,
    }
    assert channel_variables({"ChanVariable": "A=1"}) == {"A": "1"}
    assert channel_variables({}) == {}
    assert clean_callerid(message["CallerIDName"]) == ""


def test_a_call_adopted_after_a_restart_keeps_what_it_carries() -> None:
    core = CallCenter(["billing", "general"])
    core.register_agent("1001", "PJSIP/agent1001", ["billing"])
    core.login("1001", 0.0)
    core.ready("1001", 0.0)
    talking = PbxChannel(
        "1764000000.5",
        "PJSIP/trunk-00000005",
        "13800138000",
        "张伟",
        30.0,
        agent_id="1001",
        ivr_path="open>lang=zh>menu=1>queue=billing",
        chosen_queue="billing",
        recording_path=REC,
    )
    core.reconcile(PbxSnapshot((talking,), (), ("billing", "general")), at=50.0)
    effects = core.apply(ev.CallEnded("1764000000.5", 90.0, "Normal Clearing"))
    (stored,) = [e.cdr for e in effects if isinstance(e, fx.StoreCdr)]
    assert (stored.recording_path, stored.ivr_path, stored.queue, stored.caller_name) == (
        REC,
        "open>lang=zh>menu=1>queue=billing",
        "billing",
        "张伟",
    )
    assert stored.agent_id == "1001" and stored.disposition is Disposition.ANSWERED


def test_a_recovered_cdr_points_at_its_recording_and_voicemail() -> None:
    answered = answered_by_1001("1764000000.5", "00000002")
    message = line(
        uniqueid="1764000000.6",
        linkedid="1764000000.6",
        lastapp="Record",
        lastdata="",
        userfield="closed>voicemail",
        billsec=0,
    )
    calls = {c.call_id: c for c in calls_from(parse_lines([answered, message]))}
    assert calls["1764000000.5"].recording_path == REC
    assert calls["1764000000.5"].caller_name == "张伟"
    vm = calls["1764000000.6"]
    assert vm.voicemail_path == "/var/spool/asterisk/monitor/hotline/voicemail/1764000000.6.wav"
    assert vm.disposition is Disposition.VOICEMAIL and vm.recording_path is None
    forged = calls_from(
        parse_lines(
            [line(uniqueid="../x", linkedid="../x", billsec=40, dstchannel="PJSIP/agent1001-1")]
        )
    )
    assert forged[0].recording_path is None


@pytest.fixture
async def db_file(tmp_path: Path) -> AsyncIterator[str]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}"
    engine = make_engine(url)
    await create_schema(engine)
    await engine.dispose()
    yield url


async def test_a_pending_disposition_survives_a_restart(db_file: str) -> None:
    engine = make_engine(db_file)
    await Repository(engine).save_pending_disposition(
        "c1", AgentDisposition("1001", "follow_up", "send invoice"), 1.0
    )
    await engine.dispose()  # the CTI stops (its memory is gone)
    engine = make_engine(db_file)
    try:
        repository = Repository(engine)
        await repository.save_cdrs([(cdr("c1"), None)])  # the call's CDR, after the restart
        row = await repository.cdr("c1")
        assert row is not None
        assert (row.agent_disposition, row.agent_notes) == ("follow_up", "send invoice")
        # and a recovered CDR gets its pending disposition too
        await repository.save_pending_disposition(
            "c2", AgentDisposition("1001", "resolved", ""), 2.0
        )
        assert await repository.insert_missing_cdrs([cdr("c2")]) == 1
        recovered = await repository.cdr("c2")
        assert recovered is not None and recovered.agent_disposition == "resolved"
    finally:
        await engine.dispose()


async def test_pending_is_answered_only_once_the_disposition_is_stored(
    desk: Desk,  # noqa: F811
) -> None:
    token = await desk.ready("1001")
    desk.ring("c9", "1001")
    desk.answer("c9", "1001")
    status, body = await desk.post(
        "/api/calls/c9/disposition", token, {"disposition": "follow_up", "notes": "x"}
    )
    assert (status, body["stored"]) == (200, "pending")
    # a crash now: a new Repository on the same database finds it
    fresh = Repository(desk.hotline.repository.engine)
    await fresh.save_cdrs([(cdr("c9"), None)])
    row = await fresh.cdr("c9")
    assert row is not None and row.agent_disposition == "follow_up"


def test_recovered_paths_name_the_hosts_files_only_when_they_exist(tmp_path: Path) -> None:
    from cti.db.backfill import read_calls

    cdr_file = tmp_path / "hotline-cdr.json"
    answered = answered_by_1001("1764000000.5", "00000002")
    missing = answered_by_1001("1764000000.7", "00000003")
    cdr_file.write_text(answered + "\n" + missing + "\n")
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    (recordings / "1764000000.5.wav").write_bytes(b"RIFF")
    calls = {c.call_id: c for c in read_calls(cdr_file, recordings)}
    assert calls["1764000000.5"].recording_path == str(recordings.resolve() / "1764000000.5.wav")
    assert calls["1764000000.7"].recording_path is None
