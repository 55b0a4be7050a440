"""Headless Chromium for browser tests (playwright-core driven over stdin/stdout)."""
