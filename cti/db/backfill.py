"""Recover CDRs of calls that ended while the CTI was not running.

Asterisk writes every CDR to its own JSON-lines file (``cdr_custom``, see
asterisk-conf/cdr_custom.conf) whether or not we are connected. After each
(re)connect the CTI reads that file and stores, for every hotline call it has
no CDR for, a row built from Asterisk's records (marked ``recovered``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cti import dialplan
from cti.ami.translate import callback_leg
from cti.domain.model import CallDetailRecord, Disposition

log = logging.getLogger(__name__)

HOTLINE_CONTEXTS = dialplan.CDR_CONTEXTS


@dataclass(frozen=True, slots=True)
class AsteriskCdr:
    uniqueid: str
    linkedid: str
    src: str
    caller_name: str
    dcontext: str
    channel: str
    dstchannel: str
    lastapp: str
    lastdata: str
    start: float
    answer: float | None
    end: float
    billsec: float
    userfield: str


def _epoch(text: str) -> float | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z").timestamp()
    except ValueError:
        return None


def _name(clid: str) -> str:
    if clid.startswith('"') and '"' in clid[1:]:
        return clid[1 : clid.index('"', 1)]
    return ""


def parse_lines(lines: Iterable[str]) -> Iterator[AsteriskCdr]:
    """Parse cdr_custom JSON lines; malformed lines are logged and skipped."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            start, end = _epoch(row["start"]), _epoch(row["end"])
            if start is None or end is None:
                raise ValueError("no start/end time")
            yield AsteriskCdr(
                uniqueid=str(row["uniqueid"]),
                linkedid=str(row["linkedid"]),
                src=str(row.get("src", "")),
                caller_name=_name(str(row.get("clid", ""))),
                dcontext=str(row.get("dcontext", "")),
                channel=str(row.get("channel", "")),
                dstchannel=str(row.get("dstchannel", "")),
                lastapp=str(row.get("lastapp", "")),
                lastdata=str(row.get("lastdata", "")),
                start=start,
                answer=_epoch(str(row.get("answer", ""))),
                end=end,
                billsec=float(row.get("billsec", 0) or 0),
                userfield=str(row.get("userfield", "")),
            )
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("Asterisk CDR line %d skipped: %s", number, exc)


def _agent_of(dstchannel: str) -> str | None:
    # PJSIP/agent1001-0000000a -> 1001
    name = dstchannel.partition("/")[2].rpartition("-")[0]
    return name[len("agent") :] if name.startswith("agent") else None


def _queue_of_ivr_path(path: str) -> str | None:
    """The queue the IVR chose ("...>queue=billing"); the dialplan's fallback is general.

    With our router the caller waits outside app_queue, so Asterisk's CDR has
    no Queue() leg; the IVR path (the CDR's userfield) still names the queue.
    """
    steps = path.split(">") if path else []
    chosen = [s.partition("=")[2] for s in steps if s.startswith("queue=")]
    if path.startswith("agi-failed") or "unknown-queue:" in path:
        return "general"
    return chosen[-1] if chosen else None


def calls_from(records: Iterable[AsteriskCdr]) -> list[CallDetailRecord]:
    """One CallDetailRecord per hotline call (caller leg = uniqueid == linkedid)."""
    by_call: dict[str, list[AsteriskCdr]] = {}
    for record in records:
        if record.uniqueid == record.linkedid or record.linkedid in by_call:
            by_call.setdefault(record.linkedid, []).append(record)
    calls: list[CallDetailRecord] = []
    for call_id, legs in by_call.items():
        if not any(leg.dcontext in HOTLINE_CONTEXTS for leg in legs):
            continue
        first = min(legs, key=lambda leg: leg.start)
        end = max(leg.end for leg in legs)
        bridged = [leg for leg in legs if _agent_of(leg.dstchannel) and leg.billsec > 0]
        queue_leg = next((leg for leg in legs if leg.lastapp == "Queue"), None)
        ivr_path = next((leg.userfield for leg in legs if leg.userfield), "")
        queue = queue_leg.lastdata.split(",", 1)[0] if queue_leg else _queue_of_ivr_path(ivr_path)
        agent = _agent_of(bridged[0].dstchannel) if bridged else None
        talk = max((leg.billsec for leg in bridged), default=0.0)
        answered_at = end - talk if bridged else None
        disposition = (
            Disposition.ANSWERED
            if bridged
            else Disposition.ABANDONED
            if queue
            else Disposition.IVR_ONLY
        )
        calls.append(
            CallDetailRecord(
                call_id=call_id,
                caller_number=first.src,
                caller_name=first.caller_name,
                ivr_path=ivr_path,
                queue=queue,
                agent_id=agent,
                entered_at=first.start,
                queued_at=None,
                answered_at=answered_at,
                ended_at=end,
                wait_s=0.0,
                talk_s=talk,
                disposition=disposition,
                recording_path=None,
            )
        )
    return calls


def read_calls(path: Path) -> list[CallDetailRecord]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8", errors="replace") as handle:
        return calls_from(parse_lines(handle))


#: CDR(userfield) of a call-back's legs: "callback:<call id>" (asterisk-conf/extensions.conf)
CALLBACK_USERFIELD_PREFIX = "callback:"


def callback_talks(
    records: Iterable[AsteriskCdr], call_ids: Iterable[str]
) -> dict[str, tuple[str, float, float]]:
    """Call-backs of ``call_ids`` that connected the customer with an agent:
    call id -> (agent id, answered at, ended at).

    The first leg of a call-back (the channel the CTI originated; its id
    names the agent) dials the other party; when that dial was answered its
    CDR has a destination channel and talk time.
    """
    wanted = set(call_ids)
    talks: dict[str, tuple[str, float, float]] = {}
    for record in records:
        if not record.userfield.startswith(CALLBACK_USERFIELD_PREFIX):
            continue
        call_id = record.userfield[len(CALLBACK_USERFIELD_PREFIX) :]
        if call_id not in wanted or not record.dstchannel or record.billsec <= 0:
            continue
        leg = callback_leg(record.uniqueid)
        if leg is None or leg[2] != call_id:
            continue
        talks[call_id] = (leg[1], record.end - record.billsec, record.end)
    return talks


def read_callback_talks(path: Path, call_ids: Iterable[str]) -> dict[str, tuple[str, float, float]]:
    if not path.exists():
        return {}
    with path.open(encoding="utf-8", errors="replace") as handle:
        return callback_talks(parse_lines(handle), call_ids)
