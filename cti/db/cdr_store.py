"""Storing the CDR writer's batches so that one bad record never blocks the rest.

* A failure the database may get over (locked, disk full, connection lost:
  :data:`TRANSIENT`) is retried with backoff, the whole batch kept in hand.
* Any other failure means some record of the batch is refused: the batch is
  split in halves until the refused record is alone; it goes to the
  dead-letter table ``cdr_dead_letters`` with the database's reason (or, if
  even that fails, to a JSON-lines file beside the database), and the others
  are stored.
* The writer's queue is bounded (:class:`SpillingQueue`): past its size a
  record is written to the dead-letter file at once, with a clear error in
  the log, instead of growing memory without end.
* Shutdown waits at most a given time for the writer (:func:`drain_within`);
  what is still queued or in hand then goes to the dead-letter file. (A CDR
  lost from memory anyway is recovered at the next start from Asterisk's own
  CDR file.)
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError

from cti.db.fit import clean_text
from cti.db.models import CdrDeadLetter
from cti.db.repository import Repository
from cti.domain.model import CallDetailRecord

__all__ = [
    "TRANSIENT",
    "DatabaseHealth",
    "DeadLetters",
    "SpillingQueue",
    "drain_within",
    "release",
    "spill_to",
    "store_callbacks",
    "store_cdrs",
]

log = logging.getLogger(__name__)

#: Failures of the database itself, not of a record: retried, never split.
TRANSIENT: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    DisconnectionError,
    ConnectionError,
    TimeoutError,
)

Batch = list[tuple[CallDetailRecord, int | None]]
T = TypeVar("T")


def _json_default(value: object) -> object:
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return repr(value)


def record_json(item: object) -> str:
    """A queued item (a CDR with its customer id, a pending call-back...) as JSON."""
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], CallDetailRecord):
        data: Any = {"cdr": dataclasses.asdict(item[0]), "customer_id": item[1]}
    elif dataclasses.is_dataclass(item) and not isinstance(item, type):
        # shallow: a field may hold a future (nested dataclasses: _json_default)
        fields = {f.name: getattr(item, f.name) for f in dataclasses.fields(item)}
        data = {type(item).__name__: fields}
    else:
        data = {"item": repr(item)}
    return json.dumps(data, default=_json_default, ensure_ascii=False)


class DatabaseHealth:
    """Whether the writer's last try failed for the database's own reason (metrics)."""

    def __init__(self) -> None:
        self.failing_since: float | None = None  # time.time() of the first failure
        self.failures = 0  # failed tries since the start

    def failed(self, what: str, exc: BaseException) -> None:
        self.failures += 1
        if self.failing_since is None:
            self.failing_since = time.time()
            log.error("the database is failing (%s: %s); records are kept and retried", what, exc)

    def recovered(self) -> None:
        if self.failing_since is not None:
            log.warning("the database works again after %.1f s", time.time() - self.failing_since)
            self.failing_since = None


class DeadLetters:
    """Where refused records go: the table, else a private JSON-lines file."""

    def __init__(self, repository: Repository | None, spill_file: Path) -> None:
        self.repository = repository
        self.spill_file = spill_file
        self.in_hand: Sequence[object] = ()  # the writer's batch being stored
        self.health = DatabaseHealth()

    async def put(self, cdr: CallDetailRecord, customer_id: int | None, reason: str) -> None:
        record = record_json((cdr, customer_id))
        log.error("CDR of call %s refused by the database, set aside: %s", cdr.call_id, reason)
        if self.repository is not None:
            try:
                async with self.repository.sessions.begin() as session:
                    session.add(
                        CdrDeadLetter(
                            call_id=clean_text(cdr.call_id, 64),
                            reason=clean_text(reason, keep_lines=True),
                            record=record,
                            created_at=time.time(),
                        )
                    )
                return
            except Exception:
                log.exception("cannot write the dead-letter row of %s: to the file", cdr.call_id)
        self.spill([(cdr, customer_id)], reason)

    def spill(self, items: Iterable[object], reason: str) -> int:
        """Append ``items`` to the dead-letter file; returns how many."""
        lines = [
            json.dumps({"reason": reason, "at": time.time(), "record": json.loads(record_json(i))})
            + "\n"
            for i in items
        ]
        if not lines:
            return 0
        self.spill_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.spill_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as out:
            out.writelines(lines)
            out.flush()
            os.fsync(out.fileno())
        log.error("%d record(s) written to %s (%s)", len(lines), self.spill_file, reason)
        return len(lines)


async def retry_transient(
    action: Callable[[], Awaitable[T]],
    what: str,
    *,
    max_delay_s: float = 30.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    health: DatabaseHealth | None = None,
) -> T:
    """Run ``action`` until it succeeds or fails for a reason other than :data:`TRANSIENT`."""
    delay = 0.2
    while True:
        try:
            result = await action()
        except TRANSIENT as exc:
            log.warning("%s: the database failed (%s); retrying in %.1f s", what, exc, delay)
            if health is not None:
                health.failed(what, exc)
            await sleep(delay)
            delay = min(delay * 2, max_delay_s)
            continue
        if health is not None:
            health.recovered()
        return result


async def store_cdrs(
    repository: Repository,
    batch: Batch,
    dispositions: Mapping[str, Any],
    dead_letters: DeadLetters,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Store ``batch``; a record the database refuses is set aside, the rest stored."""
    if not batch:
        return
    dead_letters.in_hand = batch
    try:
        await _store(repository, batch, dispositions, dead_letters, sleep)
    finally:
        dead_letters.in_hand = ()


async def _store(
    repository: Repository,
    batch: Batch,
    dispositions: Mapping[str, Any],
    dead_letters: DeadLetters,
    sleep: Callable[[float], Awaitable[None]],
) -> None:
    ids = {cdr.call_id for cdr, _ in batch}
    mine = {k: v for k, v in dispositions.items() if k in ids}
    try:
        await retry_transient(
            lambda: repository.save_cdrs(batch, mine),
            f"storing {len(batch)} CDR(s)",
            sleep=sleep,
            health=dead_letters.health,
        )
    except Exception as exc:
        if len(batch) == 1:
            cdr, customer_id = batch[0]
            await dead_letters.put(cdr, customer_id, f"{type(exc).__name__}: {exc}"[:2000])
            return
        log.warning("a batch of %d CDRs was refused (%s): splitting it", len(batch), exc)
        middle = len(batch) // 2
        await _store(repository, batch[:middle], dispositions, dead_letters, sleep)
        await _store(repository, batch[middle:], dispositions, dead_letters, sleep)


async def store_callbacks(
    repository: Repository,
    callbacks: Sequence[Any],
    dead_letters: DeadLetters,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Save pending call-backs; one the database refuses goes to the dead-letter file."""
    if not callbacks:
        return
    try:
        await retry_transient(
            lambda: repository.save_pending_callbacks(callbacks),
            f"saving {len(callbacks)} pending call-back(s)",
            sleep=sleep,
            health=dead_letters.health,
        )
    except Exception as exc:
        if len(callbacks) == 1:
            dead_letters.spill(callbacks, f"pending call-back refused: {type(exc).__name__}: {exc}")
            return
        middle = len(callbacks) // 2
        await store_callbacks(repository, callbacks[:middle], dead_letters, sleep=sleep)
        await store_callbacks(repository, callbacks[middle:], dead_letters, sleep=sleep)


def release(item: object) -> None:
    """Let whoever waits for a set-aside write go on (a call-back's saved future)."""
    saved = getattr(item, "saved", None)
    if isinstance(saved, asyncio.Future) and not saved.done():
        saved.set_result(None)


def spill_to(dead_letters: DeadLetters) -> Callable[[object], None]:
    """The spill of a full writer queue: the dead-letter file, waiters released."""

    def spill(item: object) -> None:
        dead_letters.spill([item], "the CDR writer's queue was full")
        release(item)

    return spill


class SpillingQueue(asyncio.Queue[T], Generic[T]):
    """An asyncio queue of bounded size whose ``put_nowait`` never raises:
    past ``maxsize`` the item goes to ``spill`` (and the log says so)."""

    def __init__(self, maxsize: int, spill: Callable[[T], None]) -> None:
        super().__init__(maxsize)
        self._spill = spill
        self.spilled = 0
        self._last_log = -1.0

    def put_nowait(self, item: T) -> None:
        try:
            super().put_nowait(item)
        except asyncio.QueueFull:
            self.spilled += 1
            now = time.monotonic()
            if now - self._last_log >= 5.0:
                self._last_log = now
                log.error(
                    "the CDR writer is %d records behind (the database is too slow or "
                    "down): records go to the dead-letter file (%d so far)",
                    self.qsize(),
                    self.spilled,
                )
            self._spill(item)


async def drain_within(
    drain: Callable[[], Awaitable[None]],
    queue: asyncio.Queue[Any],
    dead_letters: DeadLetters,
    timeout_s: float,
) -> bool:
    """Wait for ``drain`` at most ``timeout_s``; then spill what is left. True: drained."""
    try:
        async with asyncio.timeout(timeout_s):
            await drain()
        return True
    except TimeoutError:
        left: list[object] = list(dead_letters.in_hand)
        while not queue.empty():
            left.append(queue.get_nowait())
            queue.task_done()
        log.error(
            "shutdown: the CDR writer did not finish in %.0f s; %d record(s) set aside",
            timeout_s,
            len(left),
        )
        dead_letters.spill(left, "shutdown: not stored in time")
        for item in left:
            release(item)
        return False
