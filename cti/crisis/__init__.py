"""The crisis switch: named profiles (another IVR flow, routes, an announcement)
a supervisor turns on and off while the service runs; see docs/crisis.md."""
