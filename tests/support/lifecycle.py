"""``async with`` for the test helpers that are started and stopped (sipp
processes, flooders, AMI connections): one ``__aenter__``/``__aexit__`` pair."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class StartStop:
    """Started on entering ``async with``; on leaving it, :meth:`stop`, or
    :meth:`abort` when the block raised."""

    async def start(self) -> None:
        """Nothing to start by default: the object is running once made."""

    async def stop(self) -> object:
        raise NotImplementedError

    async def abort(self) -> object:
        """Stop after an error inside the block (by default as :meth:`stop`)."""
        return await self.stop()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            await self.stop()
        else:
            await self.abort()
