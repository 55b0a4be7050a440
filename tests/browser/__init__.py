"""Helpers of the browser tests: headless Chromium pages and a logged-in page fixture."""
