"""Records the storage tests share: a call's CDR (the core's record and a stored
row), a pending call-back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cti.db.models import CallRecord
from cti.domain.model import CallDetailRecord, Disposition, PendingCallback

PENDING = PendingCallback(
    call_id="1764000000.17",
    caller_number="15550100002",
    caller_name="Bob",
    callback_number="15550100002",
    ivr_path="open>lang=en>menu=1>queue=billing",
    queue="billing",
    entered_at=1764000000.25,
    queued_at=1764000012.5,
    language="en",
    product="billing",
    tier="vip",
    urgency=2,
    verified=True,
    recording_path="/var/spool/asterisk/monitor/hotline/1764000000.17.wav",
    attempts=0,
)


def cdr(call_id: str) -> CallDetailRecord:
    return CallDetailRecord(
        call_id=call_id,
        caller_number="15550100002",
        caller_name="Bob",
        ivr_path="",
        queue="billing",
        agent_id="1001",
        entered_at=1764000000.0,
        queued_at=1764000012.0,
        answered_at=1764000100.0,
        ended_at=1764000160.0,
        wait_s=88.0,
        talk_s=60.0,
        disposition=Disposition.ANSWERED,
        recording_path=None,
        callback_outcome="answered",
    )


def answered_row(
    call_id: str, entered: datetime, ended: datetime, talk_s: float, **more: Any
) -> CallRecord:
    """The stored CDR of a billing call from 15550100001 that agent 1001 answered
    after 3 s in the queue; ``more``: other columns."""
    return CallRecord(
        call_id=call_id,
        caller_number="15550100001",
        caller_name="",
        queue="billing",
        agent_id="1001",
        entered_at=entered,
        ended_at=ended,
        wait_s=3.0,
        talk_s=talk_s,
        disposition="answered",
        **more,
    )
