"""The agent desktop: lookups when a call arrives, the screen-pop, the agent's view.

When a call arrives, the customer (database), the caller's last calls and
the CRM record are looked up in the background, once per call (every offer
of the call and every socket of the agent share them); the pop never waits
for them: what is not there yet is marked pending and an update follows.
The database lookups take turns (``cti.service.lookups``): a burst of calls
never holds every connection of the pool, and the last calls give up when
their turn does not come soon enough (the pop says they are unavailable).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from cti.config import Settings
from cti.db.models import Customer
from cti.db.repository import Repository
from cti.domain import events as ev
from cti.domain.callcenter import CallCenter
from cti.domain.model import AgentSnapshot, AgentState, CallSnapshot, CallState
from cti.service.crm import CrmLookup, HttpCrm
from cti.service.lookups import BoundedLookups, LookupBusy
from cti.service.tasks import TaskOwner
from cti.service.views import agent_json, call_json, customer_json, history_json
from cti.web.hub import Hub

log = logging.getLogger(__name__)
#: at most one warning per this many seconds about lookups given up
BUSY_LOG_EVERY_S = 10.0


class Desktop:
    def __init__(
        self,
        settings: Settings,
        core: CallCenter,
        repository: Repository,
        hub: Hub,
        tasks: TaskOwner,
        clock: Callable[[], float],
    ) -> None:
        self.settings, self.core, self.repository, self.hub = settings, core, repository, hub
        self.tasks, self.clock = tasks, clock
        self.crm: CrmLookup | None = (
            HttpCrm(
                settings.crm_url,
                settings.crm_timeout_s,
                settings.crm_bearer_token.get_secret_value(),
            )
            if settings.crm_url
            else None
        )
        self.agent_names: dict[str, str] = {}
        self.db_lookups = BoundedLookups(settings.pop_lookup_concurrency)
        self._busy_logged_at = float("-inf")  # when a given-up lookup was last logged
        self._customers: dict[str, asyncio.Task[Customer | None]] = {}
        self._context: dict[str, asyncio.Task[dict[str, Any] | None]] = {}
        self._popped: dict[str, set[str]] = {}  # call id -> agents that got its pop

    # ------------------------------------------------------------ lookups
    def start_lookups(self, call: CallSnapshot) -> None:
        """When a call arrives: customer, last calls, external CRM (in the background)."""
        if call.call_id not in self._customers:
            self._customers[call.call_id] = self._lookup_customer(call)
        if call.call_id not in self._context:
            self._context[call.call_id] = self.tasks.spawn(
                self._lookup_context(call.call_id, call.caller_number),
                f"pop-context-{call.call_id}",
            )

    def _lookup_customer(self, call: CallSnapshot) -> asyncio.Task[Customer | None]:
        number = call.caller_number
        return self.tasks.spawn(
            self.db_lookups.run(
                lambda: self.repository.customer_by_phone(number), key=f"customer-{call.call_id}"
            ),
            f"customer-{call.call_id}",
        )

    def customer_done(self, call_id: str) -> Customer | None:
        """The customer if its lookup has finished (never waits)."""
        task = self._customers.get(call_id)
        if task is None or not task.done() or task.cancelled():
            return None
        return task.result()

    def with_tier(self, event: ev.CallWaiting) -> ev.CallWaiting:
        """The customer's tier, when the lookup started at call start has finished.

        Never waits: the lookup began when the call arrived, seconds before
        the IVR ends, so it is nearly always done; if not, the call is routed
        as standard rather than held back.
        """
        customer = self.customer_done(event.call_id)
        if customer is None or not customer.tier:
            return event
        return dataclasses.replace(event, tier=customer.tier)

    async def take_customer(self, call_id: str) -> Customer | None:
        """At the call's end: its customer (for the CDR); forgets the call's lookups.

        A lookup still waiting for its turn behind other calls' is dropped: the
        ended call's last calls are no longer shown, and its CDR does not wait
        in the pops' line nor take a connection of its own (None: the CDR writer
        finds the customer by caller number in its own transaction).
        """
        context = self._context.pop(call_id, None)
        if context is not None and not self.db_lookups.is_running(f"history-{call_id}"):
            context.cancel()
        task = self._customers.pop(call_id, None)
        if task is None:
            return None
        if task.done() or self.db_lookups.is_running(f"customer-{call_id}"):
            return await task
        task.cancel()
        return None

    async def _lookup_context(self, call_id: str, number: str) -> dict[str, Any]:
        """The caller's last calls (cdr table) and the external CRM record."""
        history, crm = await asyncio.gather(self._history(call_id, number), self.crm_record(number))
        return {"history": history, "crm": crm}

    async def _history(self, call_id: str, number: str) -> list[dict[str, Any]] | None:
        if not number:
            return []
        limit = self.settings.pop_history_limit
        try:
            rows = await self.db_lookups.run(
                lambda: self.repository.recent_calls(number, limit),
                wait_s=self.settings.pop_history_wait_s,
                key=f"history-{call_id}",
            )
        except LookupBusy as exc:
            now = self.clock()
            if now - self._busy_logged_at >= BUSY_LOG_EVERY_S:  # one line per stretch
                self._busy_logged_at = now
                log.warning(
                    "last calls not looked up (%d given up so far): %s",
                    self.db_lookups.given_up,
                    exc,
                )
            return None
        except Exception:
            log.exception("last calls of %s could not be read", number)
            return None
        return [history_json(row) for row in rows]

    async def crm_record(self, number: str) -> dict[str, Any]:
        """The CRM's answer as the pop shows it: status ok/not_found/off/error."""
        if self.crm is None:
            return {"status": "off", "record": None}
        if not number:
            return {"status": "not_found", "record": None}
        try:
            async with asyncio.timeout(self.settings.crm_timeout_s):
                record = await self.crm.lookup(number)
        except TimeoutError:
            message = f"CRM did not answer within {self.settings.crm_timeout_s:g} s"
            log.warning("CRM lookup of %s: %s", number, message)
            return {"status": "error", "record": None, "message": message}
        except Exception as exc:
            log.warning("CRM lookup of %s failed: %s", number, exc)
            return {"status": "error", "record": None, "message": str(exc)[:200]}
        if record is None:
            return {"status": "not_found", "record": None}
        return {"status": "ok", "record": record}

    def lookups_done(self) -> bool:
        return all(t.done() for t in (*self._customers.values(), *self._context.values()))

    # ------------------------------------------------------------ screen-pop
    def pop_json(self, call: CallSnapshot) -> tuple[dict[str, Any], bool]:
        """The screen-pop of a call from what is looked up already; True if complete.

        Never waits: what is not there yet is marked pending (``customer_pending``,
        ``context_pending``) and a ``screen.pop`` update follows. ``verified`` is
        the call's own: the IVR's account + PIN check.
        """
        data = call_json(call)
        transfer = self.core.control.transfer_of(call.call_id)
        data["transfer"] = transfer.as_json() if transfer is not None else None
        lookup = self._customers.get(call.call_id)
        if lookup is not None and lookup.done():
            data["customer"] = customer_json(None if lookup.cancelled() else lookup.result())
            data["customer_pending"] = False
        else:
            data["customer"], data["customer_pending"] = None, True
        context = self._context.get(call.call_id)
        if context is not None and context.done() and not context.cancelled():
            found = context.result()
            if found is not None:
                data |= found
            else:
                data |= {"history": None, "crm": {"status": "error", "record": None}}
            data["context_pending"] = False
        else:
            data["history"], data["crm"] = [], {"status": "pending", "record": None}
            data["context_pending"] = True
        return data, not (data["customer_pending"] or data["context_pending"])

    def screen_pop(self, agent_id: str, call: CallSnapshot) -> None:
        """Pop at once; never wait on the database or the CRM in this path.

        The customer, the last calls and the CRM record were looked up when the
        call arrived (seconds earlier, during the IVR). If a lookup is somehow
        not done yet, the pop goes out marked pending and an update follows.
        """
        self._popped.setdefault(call.call_id, set()).add(agent_id)
        self.start_lookups(call)  # normally started when the call arrived
        data, complete = self.pop_json(call)
        self.hub.to_user(agent_id, "screen.pop", data)
        if not complete:
            self.tasks.spawn(
                self._complete_screen_pop(agent_id, call), f"pop-update-{call.call_id}"
            )

    async def _complete_screen_pop(self, agent_id: str, call: CallSnapshot) -> None:
        # the call's own lookups, shared by all its offers (never started again here:
        # a call that ended has none left, and its pop is no longer due)
        lookups = [self._customers.get(call.call_id), self._context.get(call.call_id)]
        pending = [task for task in lookups if task is not None]
        if pending:
            await asyncio.wait(pending)
        if not self.core.control.pop_still_due(agent_id, call.call_id):
            return
        live = self.core.calls[call.call_id]
        self.hub.to_user(agent_id, "screen.pop", self.pop_json(live.snapshot(self.clock()))[0])

    def call_updated(self, call: CallSnapshot) -> None:
        """A call's state changed: start its lookups, or tell its agents it ended."""
        if call.state is CallState.ENDED:
            self._call_ended(call)
        else:
            self.start_lookups(call)

    def _call_ended(self, call: CallSnapshot) -> None:
        """Tell every agent whose page popped the call that it is over."""
        for agent_id in self._popped.pop(call.call_id, set()):
            self.hub.to_user(
                agent_id,
                "call.ended",
                {
                    "call_id": call.call_id,
                    "agent_id": call.agent_id,
                    "answered": call.answered_at is not None,
                },
            )

    # ------------------------------------------------------------ agents
    def agent_name(self, agent_id: str) -> str:
        return self.agent_names.get(agent_id, agent_id)

    def agent_view(self, agent: AgentSnapshot) -> dict[str, Any]:
        """An agent's state as the desktop shows it (seconds relative to now)."""
        now = self.clock()
        data = agent_json(agent)
        data["name"] = self.agent_name(agent.agent_id)
        data["since_s"] = round(max(0.0, now - agent.state_since), 3)
        if agent.state is AgentState.WRAP_UP:
            live = self.core.agents.get(agent.agent_id)
            wrap_up_s = live.wrap_up_s if live is not None else 0.0
            data["wrap_up_left_s"] = round(max(0.0, agent.state_since + wrap_up_s - now), 3)
        return data

    def publish_agent(self, agent: AgentSnapshot) -> None:
        data = self.agent_view(agent)
        self.hub.to_user(agent.agent_id, "agent.state", data)
        self.hub.to_supervisors("agent.state", data)

    async def close(self) -> None:
        """Release what the desktop opened (the CRM's HTTP client)."""
        close = getattr(self.crm, "close", None)
        if close is not None:
            await close()
