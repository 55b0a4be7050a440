"""Who may open a FastAGI session: the Asterisk host, with the shared secret, within a cap.

FastAGI has no authentication of its own: whoever reaches the port can act
as Asterisk. The dialplan therefore puts a secret in the script path of every
AGI URL (``agi://host:port/<secret>/ivr``; Asterisk passes the path as
``agi_network_script``), the server takes sessions only from an allow-list of
peer addresses, and no more than ``max_sessions`` at once. A refused
connection is closed without a word (no oracle).
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["SECRET_PATTERN", "AgiGuard", "AgiRefused"]

#: What a secret may hold: it sits in a URL path and a dialplan global.
SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_\-]{16,128}$")


class AgiRefused(Exception):
    """The connection may not run a script; the message says why (for the log)."""


@dataclass(frozen=True, slots=True)
class AgiGuard:
    secret: str
    allowed_peers: frozenset[ipaddress.IPv4Network | ipaddress.IPv6Network]
    max_sessions: int

    @classmethod
    def build(cls, secret: str, allowed_peers: Iterable[str], max_sessions: int) -> AgiGuard:
        if not SECRET_PATTERN.match(secret):
            raise ValueError("the FastAGI secret must be 16-128 letters, digits, '_' or '-'")
        if max_sessions < 1:
            raise ValueError("agi_max_sessions must be at least 1")
        peers = frozenset(ipaddress.ip_network(p, strict=False) for p in allowed_peers)
        return cls(secret, peers, max_sessions)

    def peer_allowed(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.allowed_peers)

    def admit_connection(self, host: str, active: int) -> None:
        """Before reading anything: the peer and the session cap."""
        if not self.peer_allowed(host):
            raise AgiRefused(f"peer {host} is not allowed")
        if active > self.max_sessions:
            raise AgiRefused(f"{active - 1} sessions already open (limit {self.max_sessions})")

    def route(self, script: str) -> str:
        """The route of an authenticated script path (``<secret>/<route>``)."""
        secret, _, route = script.strip("/").partition("/")
        if not hmac.compare_digest(secret.encode(), self.secret.encode()) or not route:
            raise AgiRefused("wrong or missing FastAGI secret")
        return route
