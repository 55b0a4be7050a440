"""The real Asterisk hotline runs on: provisioning, configuration, SIP calls.

Needs root, mmdebstrap (first run builds the Debian sid root filesystem,
about 40 s) and sipp. If Asterisk cannot be built or started these tests
fail; they are never skipped. The ``pbx`` fixture comes from the plugin
``tests.support.pbx_fixture`` (registered in tests/conftest.py).
"""

from __future__ import annotations

import array
import asyncio
import json
import os
import socket
import subprocess
import time
import wave
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import pytest
from pydantic import SecretStr

from cti.config import Settings
from cti.pbx import runtime
from tests.support.pbx_fixture import (
    SELFTEST_CALLER,
    AmiLoginError,
    AmiMessage,
    Pbx,
    RawAmi,
    clear_queue,
    site_files,
)
from tests.support.sipp import AgentPhone, agent_port, place_call, start_call

QUEUES = {"general", "billing", "technical", "account"}
CALLER = "13800138000"
CALLER_NAME = "张伟"


# --------------------------------------------------------------------------- no Asterisk needed


def test_start_refuses_an_empty_ami_secret(tmp_path: Path) -> None:
    settings = Settings(ami_secret=SecretStr(""), asterisk_run_dir=tmp_path / "run")
    with pytest.raises(runtime.PbxError, match="AMI secret"):
        runtime.start(settings)
    assert not (tmp_path / "run").exists()


def test_recording_path_maps_into_recordings_dir(tmp_path: Path) -> None:
    settings = Settings(recordings_dir=tmp_path)
    inside = runtime.CHROOT_RECORDINGS_DIR / "1795.12.wav"
    assert runtime.recording_path_in_host(settings, str(inside)) == tmp_path / "1795.12.wav"
    assert runtime.recording_path_in_host(settings, inside) == tmp_path / "1795.12.wav"
    for bad in ("/etc/passwd", f"{runtime.CHROOT_RECORDINGS_DIR}/../x.wav", "x.wav"):
        with pytest.raises(ValueError):
            runtime.recording_path_in_host(settings, bad)


def test_stop_leaves_a_foreign_process_alone(tmp_path: Path) -> None:
    """A pid file whose pid now belongs to another process is stale: never kill it."""
    other = subprocess.Popen(["sleep", "30"])
    try:
        settings = Settings(asterisk_run_dir=tmp_path)
        pid_file = tmp_path / "asterisk.pid"
        pid_file.write_text(json.dumps({"pid": other.pid, "starttime": 1, "rootfs": "/x"}))
        assert runtime.stop(settings) is False
        assert other.poll() is None
        assert not pid_file.exists()
        assert runtime.stop(settings) is False  # idempotent
        assert runtime.status(settings).running is False
    finally:
        other.kill()
        other.wait()


# --------------------------------------------------------------------------- the running Asterisk


@pytest.mark.asterisk
def test_asterisk_22_runs(pbx: Pbx) -> None:
    status = pbx.status()
    assert status.running and status.pid
    assert status.version is not None and status.version.startswith("Asterisk 22.")
    assert "Asterisk 22." in pbx.cli("core show version")


@pytest.mark.asterisk
async def test_all_queues_are_visible_over_ami(pbx: Pbx) -> None:
    # "general" is a realtime queue (queues.conf cannot define it): it must be
    # listed like the others right after start, for the CTI's resync.
    async with await pbx.ami() as ami:
        replies = await ami.action_list("QueueStatus")
        assert replies[0]["Response"] == "Success"
        params = {m["Queue"]: m for m in replies if m.event == "QueueParams"}
        assert set(params) >= QUEUES
        for name in QUEUES:
            assert params[name]["Strategy"] == "rrmemory"
        summary = await ami.action_list("QueueSummary", Queue="general")
        assert [m["Queue"] for m in summary if m.event == "QueueSummary"] == ["general"]


@pytest.mark.asterisk
def test_boot_log_has_no_load_problems(pbx: Pbx) -> None:
    problems = [
        line
        for line in runtime.log_problems(pbx.settings)
        if any(
            text in line
            for text in ("not registered", "Unable to load", "failed to load", "declined")
        )
    ]
    assert problems == []
    dialplan = pbx.cli("dialplan show hotline")
    for app in ("AGI(agi://", "MixMonitor(", "Goto(hotline-wait", "CDR(userfield)"):
        assert app in dialplan
    waiting = pbx.cli("dialplan show hotline-wait")
    for app in ("HOTLINE_ROUTING=", "Gosub(hotline-cti-alive", "Queue("):
        assert app in waiting
    assert "Dial(${CUT(HOTLINE_OFFER" in pbx.cli("dialplan show hotline-offer")


@pytest.mark.asterisk
async def test_ami_login_and_least_privilege(pbx: Pbx) -> None:
    async with await pbx.ami() as ami:
        booted = await ami.wait_event("FullyBooted", timeout=5)
        assert booted["Status"] == "Fully Booted"
        assert (await ami.action("Ping"))["Response"] == "Success"
        endpoints = await ami.action_list("PJSIPShowEndpoints")
        names = {m["ObjectName"] for m in endpoints if m.event == "EndpointList"}
        assert {f"agent{n}" for n in range(1001, 1011)} | {"trunk"} <= names
        channels = await ami.action_list("CoreShowChannels")
        assert channels[-1].event == "CoreShowChannelsComplete"
        value = await ami.action("Getvar", Variable="HOTLINE_AGI_PORT")
        assert value["Value"] == str(pbx.settings.agi_port)
        # Not granted: CLI commands and config updates over AMI.
        denied = await ami.action("Command", Command="core show uptime")
        assert denied["Response"] == "Error" and "Permission denied" in denied["Message"]
        denied = await ami.action(
            "UpdateConfig", SrcFilename="queues.conf", DstFilename="queues.conf"
        )
        assert denied["Response"] == "Error"


@pytest.mark.asterisk
async def test_ami_refuses_a_wrong_secret(pbx: Pbx) -> None:
    settings = pbx.settings
    with pytest.raises(AmiLoginError, match="Authentication failed"):
        await RawAmi.login(settings.ami_host, settings.ami_port, settings.ami_user, "wrong")
    with pytest.raises(AmiLoginError):
        await RawAmi.login(settings.ami_host, settings.ami_port, "admin", pbx.ami_secret)


def _sockets(pid: int) -> list[tuple[str, str, int, str]]:
    """(protocol, local address, port, state) of every inet socket of ``pid``."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    found = []
    for proto in ("tcp", "tcp6", "udp", "udp6"):
        for line in Path(f"/proc/net/{proto}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] not in inodes:
                continue
            address, port = fields[1].split(":")
            raw = bytes.fromhex(address)
            if len(raw) == 4:
                ip = socket.inet_ntop(socket.AF_INET, raw[::-1])
            else:
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                ip = socket.inet_ntop(socket.AF_INET6, words)
            found.append((proto, ip, int(port, 16), fields[3]))
    return found


@pytest.mark.asterisk
def test_ami_and_sip_listen_on_loopback_only(pbx: Pbx) -> None:
    pid = pbx.status().pid
    assert pid is not None
    sockets = _sockets(pid)
    listening_tcp = [s for s in sockets if s[0].startswith("tcp") and s[3] == "0A"]
    assert listening_tcp == [("tcp", "127.0.0.1", pbx.settings.ami_port, "0A")]
    sip = [s for s in sockets if s[0].startswith("udp") and s[2] == pbx.settings.sip_port]
    assert [(proto, ip) for proto, ip, _, _ in sip] == [("udp", "127.0.0.1")]
    # PJSIP's DNS resolver keeps two idle sockets on wildcard addresses (no
    # traffic with IP literals); nothing of ours may be among them.
    rtp = range(pbx.settings.rtp_start, pbx.settings.rtp_end + 1)
    for _, ip, port, _ in sockets:
        if ip in ("0.0.0.0", "::"):
            assert port not in (pbx.settings.sip_port, pbx.settings.ami_port)
            assert port not in rtp


# --------------------------------------------------------------------------- calls


def _wav_peak(path: Path) -> int:
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 8000)
        samples = array.array("h", wav.readframes(wav.getnframes()))
    return max((abs(s) for s in samples), default=0)


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return -1


async def _wait_file(path: Path, timeout: float = 10.0) -> None:
    """Wait until ``path`` exists and stopped growing (MixMonitor closed it)."""
    deadline = time.monotonic() + timeout
    last = -1
    while True:
        size = _file_size(path)
        if size > 44 and size == last:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} not written (size {size})")
        last = size
        await asyncio.sleep(0.2)


def _of_call(uniqueid: str, event: str) -> Callable[[AmiMessage], bool]:
    def match(message: AmiMessage) -> bool:
        return message.event == event and message.get("Uniqueid") == uniqueid

    return match


async def _queue_add(ami: RawAmi, queue: str, agent: int) -> None:
    """Make ``agent`` the only member of ``queue``."""
    await clear_queue(ami, queue)
    reply = await ami.action(
        "QueueAdd",
        Queue=queue,
        Interface=f"PJSIP/agent{agent}",
        MemberName=str(agent),
        StateInterface=f"PJSIP/agent{agent}",
    )
    assert reply["Response"] == "Success", reply


async def _queue_remove(ami: RawAmi, queue: str, agent: int) -> None:
    await ami.action("QueueRemove", Queue=queue, Interface=f"PJSIP/agent{agent}")


@pytest.mark.asterisk
async def test_queued_call_reaches_agent_and_is_recorded(pbx: Pbx) -> None:
    async with await pbx.ami() as ami:
        await _queue_add(ami, "general", 1001)
        try:
            async with AgentPhone(agent_port(1001), answer_after_s=0.3) as phone:
                result = await place_call(
                    pbx.settings.sip_port,
                    caller_number=CALLER,
                    caller_name=CALLER_NAME,
                    dtmf="1",
                    talk_s=4.0,
                )
                await phone.wait_completed(timeout=10)
            assert result.ok, result.describe()
            assert result.local_hangup and result.dtmf_sent == "1"
            assert phone.calls_answered == 1 and phone.failed_calls == 0

            join = await ami.wait_event(
                lambda m: m.event == "QueueCallerJoin" and m.get("CallerIDNum") == CALLER
            )
            uniqueid = join["Uniqueid"]
            assert join["Queue"] == "general"
            assert join["CallerIDName"] == CALLER_NAME
            assert join.chanvars["HOTLINE_IVR_PATH"] == "agi-failed"
            for event in ("AgentCalled", "QueueCallerLeave", "AgentConnect", "AgentComplete"):
                message = await ami.wait_event(_of_call(uniqueid, event))
                assert message["Queue"] == "general"
            connect = await ami.wait_event(_of_call(uniqueid, "AgentConnect"))
            assert connect["MemberName"] == "1001"
            assert connect["Interface"] == "PJSIP/agent1001"
            complete = await ami.wait_event(_of_call(uniqueid, "AgentComplete"))
            assert complete["Reason"] == "caller"
            await ami.wait_event(
                lambda m: m.event == "QueueMemberStatus" and m.get("MemberName") == "1001"
            )
            recording = await ami.wait_event(
                lambda m: (
                    m.event == "VarSet"
                    and m.get("Uniqueid") == uniqueid
                    and m.get("Variable") == "HOTLINE_RECORDING"
                )
            )
            cdr = await ami.wait_event(_of_call(uniqueid, "Cdr"))
            assert cdr["UserField"] == "agi-failed"
            assert cdr["LinkedID"] == uniqueid
            assert cdr["Source"] == CALLER
            assert cdr["DestinationChannel"].startswith("PJSIP/agent1001-")
            assert not [m for m in ami.events if m.event == "Newexten"]
            assert {m["Variable"] for m in ami.events if m.event == "VarSet"} <= {
                "HOTLINE_DNIS",
                "HOTLINE_QUEUE",
                "HOTLINE_IVR_PATH",
                "HOTLINE_RECORDING",
                "HOTLINE_WAIT_SINCE",
                "HOTLINE_ROUTING_MODE",  # no CTI alive: app_queue took the call
            }

            path_in_asterisk = recording["Value"]
            assert PurePosixPath(path_in_asterisk).parent == runtime.CHROOT_RECORDINGS_DIR
            assert connect.chanvars["HOTLINE_RECORDING"] == path_in_asterisk
            path = pbx.recording(path_in_asterisk)
            await _wait_file(path)
            assert _wav_peak(path) > 1000  # real audio from both phones, not silence
        finally:
            await _queue_remove(ami, "general", 1001)

    lines = runtime.cdr_file(pbx.settings).read_text().splitlines()
    records = [json.loads(line) for line in lines]
    record = next(r for r in records if r["uniqueid"] == uniqueid)
    assert record["linkedid"] == uniqueid
    assert record["userfield"] == "agi-failed"
    assert record["clid"] == f'"{CALLER_NAME}" <{CALLER}>'


@pytest.mark.asterisk
async def test_agent_hangs_up_first(pbx: Pbx) -> None:
    async with await pbx.ami() as ami:
        await _queue_add(ami, "general", 1003)
        try:
            async with AgentPhone(agent_port(1003), answer_after_s=0.2, hangup_after_s=1.0) as ph:
                result = await place_call(pbx.settings.sip_port, caller_number=CALLER, talk_s=20)
                await ph.wait_completed(timeout=5)
            assert result.ok and result.remote_hangup and not result.local_hangup, result.describe()
            assert any(line.startswith("LOCAL_BYE ") for line in ph.log_lines)
            complete = await ami.wait_event("AgentComplete")
            assert complete["Reason"] == "agent"
        finally:
            await _queue_remove(ami, "general", 1003)


@pytest.mark.asterisk
async def test_caller_abandons_while_agent_rings(pbx: Pbx) -> None:
    async with await pbx.ami() as ami:
        await _queue_add(ami, "general", 1004)
        try:
            async with AgentPhone(agent_port(1004), answer=False) as phone:
                async with await start_call(
                    pbx.settings.sip_port, caller_number=CALLER, dtmf="", talk_s=3.0
                ) as call:
                    await call.wait_answered(timeout=10)  # Asterisk answers before the IVR
                    await phone.wait_ringing(timeout=10)
                    result = await call.wait()
                await phone.wait_cancelled(timeout=5)
            assert result.ok and result.local_hangup, result.describe()
            assert phone.calls_answered == 0 and phone.failed_calls == 0
            abandon = await ami.wait_event("QueueCallerAbandon")
            assert abandon["Queue"] == "general"
        finally:
            await _queue_remove(ami, "general", 1004)


@pytest.mark.asterisk
async def test_dtmf_sent_as_sip_info_reaches_the_dialplan(pbx: Pbx) -> None:
    async with await pbx.ami() as ami:
        result = await place_call(
            pbx.settings.sip_port,
            caller_number=SELFTEST_CALLER,
            exten="dtmf",
            dtmf="123#",
            talk_s=15,
        )
        assert result.ok and result.remote_hangup, result.describe()
        assert result.dtmf_sent == "123#"
        cdr = await ami.wait_event(
            lambda m: m.event == "Cdr" and m.get("DestinationContext") == "hotline-test"
        )
        assert cdr["UserField"] == "dtmf:123"


@pytest.mark.asterisk
async def test_originate_to_an_agent_phone_plays_the_test_prompt(pbx: Pbx) -> None:
    async with await pbx.ami() as ami, AgentPhone(agent_port(1002), answer_after_s=0.2) as phone:
        reply = await ami.action(
            "Originate",
            Channel="PJSIP/agent1002",
            Context="hotline-test",
            Exten="prompt",
            Priority="1",
            CallerID='"Hotline test" <4000>',
            Timeout="10000",
            Async="true",
        )
        assert reply["Response"] == "Success", reply
        response = await ami.wait_event("OriginateResponse", timeout=15)
        assert response["Response"] == "Success"
        await phone.wait_completed(timeout=15)  # Asterisk hangs up after the prompt
        assert any(line.startswith("REMOTE_BYE ") for line in phone.log_lines)
    assert phone.failed_calls == 0


@pytest.mark.asterisk
async def test_asterisk_can_call_the_hotline_itself(pbx: Pbx) -> None:
    """Known audio as the caller without sipp: Asterisk dials its own trunk."""
    async with await pbx.ami() as ami:
        await clear_queue(ami, "general")  # nobody answers: the caller just waits
        reply = await ami.action(
            "Originate",
            Channel=f"PJSIP/trunk/sip:4000@127.0.0.1:{pbx.settings.sip_port}",
            Context="hotline-test",
            Exten="prompt",
            Priority="1",
            CallerID=f'"{CALLER_NAME}" <13900139000>',
            Timeout="10000",
            Async="true",
        )
        assert reply["Response"] == "Success", reply
        join = await ami.wait_event(
            lambda m: m.event == "QueueCallerJoin" and m.get("CallerIDNum") == "13900139000"
        )
        assert join["Queue"] == "general" and join["CallerIDName"] == CALLER_NAME
        assert join["Channel"].startswith("PJSIP/trunk-")
        # The calling side hangs up after the prompt; the caller leaves the queue.
        await ami.wait_event(_of_call(join["Uniqueid"], "QueueCallerAbandon"), timeout=15)


@pytest.mark.asterisk
def test_start_replaces_a_running_instance_from_its_pid_file(pbx: Pbx) -> None:
    old = pbx.status()
    assert old.running and old.pid
    new = runtime.start(pbx.settings, extra_files=site_files(pbx.settings))
    assert new.running and new.pid and new.pid != old.pid
    assert not Path(f"/proc/{old.pid}").exists()
    saved = json.loads((pbx.settings.asterisk_run_dir / "asterisk.pid").read_text())
    assert saved["pid"] == new.pid


@pytest.mark.asterisk
def test_stop_is_idempotent_and_start_again(pbx: Pbx) -> None:
    pid = pbx.status().pid
    assert pid is not None
    assert runtime.stop(pbx.settings) is True
    assert not Path(f"/proc/{pid}").exists()
    assert runtime.status(pbx.settings).running is False
    assert runtime.stop(pbx.settings) is False
    with pytest.raises(runtime.PbxError):
        runtime.asterisk_cli(pbx.settings, "core show uptime")
    # A plain restart keeps the site files of the previous start (run dir).
    assert runtime.start(pbx.settings).running
    assert "Endpoint:  selftest" in pbx.cli(f"pjsip show endpoint {SELFTEST_CALLER}")
