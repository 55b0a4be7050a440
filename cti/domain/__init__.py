"""The pure domain core: calls, agents and queues as state machines.

Nothing here does I/O or knows about asyncio, panoramisk, SQLAlchemy or
aiohttp. Adapters translate the outside world into the events of
``cti.domain.events`` and carry out the effects of ``cti.domain.effects``.
"""
