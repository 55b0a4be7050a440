"""The one error type of the PBX provisioning (build, start, stop, CLI)."""

from __future__ import annotations


class PbxError(RuntimeError):
    """Building, starting, stopping or talking to Asterisk failed."""
