"""Helpers for hotline's tests: a real Asterisk (pbx_fixture) and sipp calls (sipp)."""
