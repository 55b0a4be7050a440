"""Records: the one CDR writer (with pending call-backs) and the agents' dispositions.

CDRs are committed in batches by one writer, in order with the pending
call-backs (so a call-back is stored before its try is placed, and storing the
call's CDR removes it). A disposition given before the CDR row exists is kept
(in memory and durably, ``pending_dispositions``) and written in the CDR's own
transaction; a later one updates the row.

The writer's queue is bounded and a record the database refuses is set aside
as a dead letter, the rest stored (:mod:`cti.db.cdr_store`); a disposition
that cannot be stored after a few tries is set aside too, never retried
forever.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from enum import StrEnum
from typing import Any

from cti.config import Settings
from cti.db.cdr_store import (
    TRANSIENT,
    DeadLetters,
    SpillingQueue,
    spill_to,
    store_callbacks,
    store_cdrs,
)
from cti.db.repository import AgentDisposition, Repository
from cti.domain.model import CallDetailRecord, PendingCallback
from cti.service.desktop import Desktop
from cti.service.views import wrap_json
from recordings.catalogue import VOICEMAIL_FOLDER, RecordingPathError, host_path

log = logging.getLogger(__name__)

#: Tries of a disposition given while its CDR was being written, before it is set aside.
LATE_DISPOSITION_TRIES = 6


@dataclasses.dataclass(frozen=True, slots=True)
class LateDisposition:
    """A disposition the database did not take after its CDR was stored (dead letter)."""

    call_id: str
    agent_id: str
    code: str
    notes: str


@dataclasses.dataclass(frozen=True, slots=True)
class CallbackWrite:
    """A pending call-back for the writer; ``saved`` is done once it is committed."""

    callback: PendingCallback
    saved: asyncio.Future[None]


class DispositionOutcome(StrEnum):
    STORED = "stored"  # in the CDR row already
    PENDING = "pending"  # kept, written with the CDR when the call ends


class Records:
    def __init__(self, settings: Settings, repository: Repository, desktop: Desktop) -> None:
        self.settings, self.repository, self.desktop = settings, repository, desktop
        # one writer, in order: CDRs (with the customer's id) and pending call-backs;
        # bounded, a refused record is set aside, never retried forever (cti/db/cdr_store.py)
        self.dead_letters = DeadLetters(repository, settings.dead_letter_file)
        self.queue: asyncio.Queue[tuple[CallDetailRecord, int | None] | CallbackWrite] = (
            SpillingQueue(settings.cdr_queue_max, spill_to(self.dead_letters))
        )
        self._callback_saved: dict[str, asyncio.Future[None]] = {}
        # Dispositions given before the CDR row exists, stored with it; CDRs
        # handed to the writer and not committed yet (call id -> agent).
        self._dispositions: dict[str, AgentDisposition] = {}
        self._cdr_in_flight: dict[str, str | None] = {}
        self._wrap: dict[str, dict[str, Any]] = {}  # agent -> last call without disposition
        self.sleep = asyncio.sleep  # between tries of a late disposition (tests: no wait)

    # ------------------------------------------------------------ call-backs
    def save_callback(self, callback: PendingCallback) -> None:
        saved = asyncio.get_running_loop().create_future()
        self._callback_saved[callback.call_id] = saved
        self.queue.put_nowait(CallbackWrite(callback, saved))

    async def callback_saved(self, call_id: str) -> None:
        """Wait until the last state of the call-back handed over is committed."""
        saved = self._callback_saved.get(call_id)
        if saved is not None:
            await asyncio.shield(saved)

    # ------------------------------------------------------------ CDRs
    def cdr_ended(self, cdr: CallDetailRecord) -> None:
        """The core closed a call: note whose it was (dispositions), then store it."""
        self._cdr_in_flight[cdr.call_id] = cdr.agent_id
        if cdr.agent_id and cdr.answered_at is not None:
            if cdr.call_id in self._dispositions:
                self._wrap.pop(cdr.agent_id, None)
            else:
                self._wrap[cdr.agent_id] = wrap_json(cdr)

    async def store_cdr(self, cdr: CallDetailRecord) -> None:
        """Hand a CDR to the writer with its customer, paths mapped to the host's."""
        customer = await self.desktop.take_customer(cdr.call_id)
        if cdr.recording_path:
            try:
                local = host_path(self.settings.recordings_dir, cdr.recording_path)
                cdr = dataclasses.replace(cdr, recording_path=str(local))
            except RecordingPathError:
                log.warning(
                    "call %s: recording outside the catalogue: %s", cdr.call_id, cdr.recording_path
                )
        if cdr.voicemail_path:
            try:
                voicemail = host_path(
                    self.settings.recordings_dir, cdr.voicemail_path, VOICEMAIL_FOLDER
                )
                cdr = dataclasses.replace(cdr, voicemail_path=str(voicemail))
            except RecordingPathError:
                log.warning(
                    "call %s: voicemail outside the catalogue: %s", cdr.call_id, cdr.voicemail_path
                )
        self.queue.put_nowait((cdr, customer.id if customer else None))

    async def run_writer(self) -> None:
        """One writer: CDRs are committed in batches.

        A database outage (locked, full, unreachable) is retried with backoff,
        the batch in hand; a record the database refuses is set aside in the
        dead-letter table and the rest stored (cti/db/cdr_store.py). What a
        crash loses is recovered from Asterisk's CDR file on restart.
        """
        while True:
            items = [await self.queue.get()]
            while not self.queue.empty() and len(items) < 500:
                items.append(self.queue.get_nowait())
            batch = [item for item in items if isinstance(item, tuple)]
            writes = [item for item in items if isinstance(item, CallbackWrite)]
            call_ids = [cdr.call_id for cdr, _ in batch]
            # the last state of each pending call-back, unless its call just ended
            # (storing the CDR removes it)
            latest = {w.callback.call_id: w.callback for w in writes}
            callbacks = [cb for call_id, cb in latest.items() if call_id not in call_ids]
            # dispositions given before the CDR existed go into its transaction
            dispositions = self._take_dispositions(call_ids)
            # the database's own failures are retried; a record it refuses is set
            # aside (dead letter) and the rest stored (cti/db/cdr_store.py)
            await store_callbacks(self.repository, callbacks, self.dead_letters)
            await store_cdrs(self.repository, batch, dispositions, self.dead_letters)
            for write in writes:
                if not write.saved.done():
                    write.saved.set_result(None)
                if self._callback_saved.get(write.callback.call_id) is write.saved:
                    del self._callback_saved[write.callback.call_id]
            # ... and those given while it was being written, right after it
            while late := self._take_dispositions(call_ids):
                for call_id, chosen in late.items():
                    await self._store_late_disposition(call_id, chosen)
            for call_id in call_ids:
                self._cdr_in_flight.pop(call_id, None)
            for _ in items:
                self.queue.task_done()

    # ------------------------------------------------------------ dispositions
    def cdr_owner(self, call_id: str) -> tuple[bool, str | None]:
        """(handed to the writer and not committed yet, the agent who answered)."""
        if call_id in self._cdr_in_flight:
            return True, self._cdr_in_flight[call_id]
        return False, None

    async def keep_disposition(self, call_id: str, chosen: AgentDisposition, at: float) -> None:
        """Written in the CDR's own transaction (or right after it); kept durably
        meanwhile, so a restart of the CTI does not lose it."""
        self._dispositions[call_id] = chosen
        self.forget_wrap(chosen.agent_id, call_id)
        try:
            await self.repository.save_pending_disposition(call_id, chosen, at)
        except Exception:  # still kept in memory and written with the CDR
            log.exception("cannot keep the disposition of %s durably", call_id)

    async def store_disposition(self, call_id: str, chosen: AgentDisposition) -> bool:
        """Update the stored CDR row; False when it is not a call the agent answered."""
        stored = await self.repository.set_agent_disposition(
            call_id, chosen.agent_id, chosen.code, chosen.notes
        )
        if stored:
            self.forget_wrap(chosen.agent_id, call_id)
        return stored

    def wrap_call(self, agent_id: str) -> dict[str, Any] | None:
        """The agent's last answered call that has no disposition yet (for a resync)."""
        return self._wrap.get(agent_id)

    def forget_wrap(self, agent_id: str, call_id: str) -> None:
        wrap = self._wrap.get(agent_id)
        if wrap is not None and wrap["call_id"] == call_id:
            del self._wrap[agent_id]

    def _take_dispositions(self, call_ids: list[str]) -> dict[str, AgentDisposition]:
        return {cid: self._dispositions.pop(cid) for cid in call_ids if cid in self._dispositions}

    async def _store_late_disposition(self, call_id: str, chosen: AgentDisposition) -> None:
        """A few tries while the database is failing, then set aside (never forever:
        the writer waits for it)."""
        delay = 0.2
        reason = ""
        for attempt in range(1, LATE_DISPOSITION_TRIES + 1):
            try:
                await self.repository.set_agent_disposition(
                    call_id, chosen.agent_id, chosen.code, chosen.notes
                )
                return
            except TRANSIENT as exc:
                reason = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "storing the disposition of %s failed (try %d): %s", call_id, attempt, reason
                )
                if attempt < LATE_DISPOSITION_TRIES:
                    await self.sleep(delay)
                    delay = min(delay * 2, 30.0)
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"
                log.exception("the database refused the disposition of %s", call_id)
                break
        late = LateDisposition(call_id, chosen.agent_id, chosen.code, chosen.notes)
        self.dead_letters.spill([late], f"disposition not stored: {reason}"[:2000])
