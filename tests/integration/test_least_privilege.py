"""Asterisk runs unprivileged in its own PID namespace; the CTI's AMI account can do
only what the CTI uses (cti/ami/rights.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cti.ami import rights
from tests.support.pbx_fixture import Pbx


def _status_ids(pid: int) -> tuple[int, int]:
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(fields["Uid"].split()[1]), int(fields["Gid"].split()[1])


@pytest.mark.asterisk
def test_asterisk_runs_as_an_unprivileged_user(pbx: Pbx) -> None:
    pid = pbx.status().pid
    assert pid is not None
    assert Path(f"/proc/{pid}/exe").resolve().name == "asterisk"
    uid, gid = _status_ids(pid)
    assert uid != 0 and gid != 0
    # the uid belongs to no account of the host
    host_uids = {
        int(line.split(":")[2]) for line in Path("/etc/passwd").read_text().splitlines() if line
    }
    assert uid not in host_uids


@pytest.mark.asterisk
def test_asterisk_sees_only_its_own_processes(pbx: Pbx) -> None:
    pid = pbx.status().pid
    assert pid is not None
    assert os.readlink(f"/proc/{pid}/ns/pid") != os.readlink("/proc/self/ns/pid")
    # Asterisk is the first process of its namespace
    nspid = next(
        line
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if line.startswith("NSpid:")
    )
    assert nspid.split()[-1] == "1"


@pytest.mark.asterisk
async def test_the_cti_account_cannot_load_modules_nor_run_host_commands(pbx: Pbx) -> None:
    async with await pbx.ami() as ami:
        denied = await ami.action("ModuleLoad", Module="app_system.so", LoadType="load")
        assert denied["Response"] == "Error", denied
        assert "Permission denied" in (denied.get("Message") or "")
        originate = await ami.action(
            "Originate",
            Channel="Local/s@hotline-test",
            Application="System",
            Data="id",
            Async="true",
        )
        assert originate["Response"] == "Error", originate
        for action in ("Reload", "DBPut", "Command", "UpdateConfig", "PJSIPShowEndpoints"):
            reply = await ami.action(
                action, Family="x", Key="y", Val="z", Command="core show uptime"
            )
            assert reply["Response"] == "Error", (action, reply)
    assert "app_system.so" not in pbx.cli("module show like system")


@pytest.mark.asterisk
async def test_every_action_the_cti_uses_is_permitted(pbx: Pbx) -> None:
    """Sent with harmless arguments: the answer may be an error, but never a refusal."""
    harmless = {
        "Setvar": {"Variable": "HOTLINE_RIGHTS_PROBE", "Value": "1"},
        "Getvar": {"Variable": "HOTLINE_RIGHTS_PROBE"},
        "Hangup": {"Channel": "PJSIP/nobody-00000000"},
        "Redirect": {
            "Channel": "PJSIP/nobody-00000000",
            "Context": "x",
            "Exten": "s",
            "Priority": "1",
        },
        "Originate": {
            "Channel": "Local/nobody@nowhere",
            "Application": "Wait",
            "Data": "0",
            "Async": "true",
        },
        "QueueAdd": {"Queue": "no-such-queue", "Interface": "PJSIP/nobody"},
        "QueueRemove": {"Queue": "no-such-queue", "Interface": "PJSIP/nobody"},
        "QueuePause": {"Queue": "no-such-queue", "Interface": "PJSIP/nobody", "Paused": "true"},
    }
    async with await pbx.ami() as ami:
        for action in rights.ACTIONS:
            if action in ("Login", "Logoff"):
                continue
            if action in ("CoreShowChannels", "QueueStatus"):
                replies = await ami.action_list(action)
                reply = replies[0]
            else:
                reply = await ami.action(action, **harmless.get(action, {}))
            assert "Permission denied" not in (reply.get("Message") or ""), (action, reply)
