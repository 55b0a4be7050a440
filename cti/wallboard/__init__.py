"""The supervisors' wallboard: live KPIs pushed over the WebSocket, the agent
state log, alarms (stored, pushed, sent to a webhook) and reports.

``feature.Wallboard`` wires the pure ``cti.kpi`` core to the hub, the
database (``store``) and the webhook (``webhook``); ``cti.web.wallboard``
serves its pages and HTTP API.
"""
