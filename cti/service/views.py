"""JSON views of the core's snapshots and stored rows, as the web and WebSocket send them."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from cti.db.models import CallRecord, Customer
from cti.domain.model import AgentSnapshot, CallDetailRecord, CallSnapshot


def agent_json(agent: AgentSnapshot) -> dict[str, Any]:
    data = asdict(agent)
    data["state"] = agent.state.value
    data["queues"] = list(agent.queues)
    return data


def call_json(call: CallSnapshot) -> dict[str, Any]:
    data = asdict(call)
    data["state"] = call.state.value
    data["waited_s"] = round(call.waited_s, 3)
    return data


def wrap_json(cdr: CallDetailRecord) -> dict[str, Any]:
    return {
        "call_id": cdr.call_id,
        "caller_number": cdr.caller_number,
        "caller_name": cdr.caller_name,
        "queue": cdr.queue,
        "ended_at": cdr.ended_at,
        "talk_s": round(cdr.talk_s, 3),
    }


def history_json(row: CallRecord) -> dict[str, Any]:
    return {
        "call_id": row.call_id,
        "at": row.entered_at.timestamp() if row.entered_at else None,
        "queue": row.queue,
        "agent_id": row.agent_id,
        "result": row.disposition,
        "talk_s": row.talk_s,
        "disposition": row.agent_disposition,
        "notes": row.agent_notes,
    }


def customer_json(customer: Customer | None) -> dict[str, Any] | None:
    if customer is None:
        return None
    return {
        "id": customer.id,
        "phone": customer.phone,
        "name": customer.name,
        "tier": customer.tier,
        "language": customer.language,
        "notes": customer.notes,
    }
