"""The web adapter: agent API, WebSocket hub and pages (aiohttp)."""
