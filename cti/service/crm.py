"""The site's CRM: an external customer lookup by caller number, over HTTP."""

from __future__ import annotations

import urllib.parse
from typing import Any, Protocol

import aiohttp


class CrmLookup(Protocol):
    """An external customer lookup by caller number."""

    async def lookup(self, number: str) -> dict[str, Any] | None:
        """The customer record, None when unknown; raises on failure."""
        ...  # pragma: no cover


class CrmError(Exception):
    pass


class HttpCrm:
    """GET ``url`` with ``{number}`` filled in.

    200 with a JSON object: the record; 404: unknown caller; anything else,
    a timeout or a connection error: ``CrmError``. The HTTP session is opened
    on first use and closed by :meth:`close` (the service does at shutdown).
    """

    def __init__(self, url: str, timeout_s: float, bearer_token: str = "") -> None:
        self.url, self.timeout_s, self.bearer_token = url, timeout_s, bearer_token
        self._http: aiohttp.ClientSession | None = None

    async def lookup(self, number: str) -> dict[str, Any] | None:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s))
        url = self.url.replace("{number}", urllib.parse.quote(number, safe=""))
        headers = {"Accept": "application/json"}
        if self.bearer_token:
            headers["Authorization"] = f"Bearer {self.bearer_token}"
        try:
            async with self._http.get(url, headers=headers, allow_redirects=False) as response:
                if response.status == 404:
                    return None
                if response.status != 200:
                    raise CrmError(f"CRM answered HTTP {response.status}")
                body = await response.json(content_type=None)
        except TimeoutError as exc:
            raise CrmError(f"CRM did not answer within {self.timeout_s:g} s") from exc
        except (aiohttp.ClientError, ValueError) as exc:
            raise CrmError(f"CRM lookup failed: {exc}") from exc
        if not isinstance(body, dict):
            raise CrmError("CRM answered something other than a JSON object")
        return body

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
