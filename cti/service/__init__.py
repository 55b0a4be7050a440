"""The service: the pure core wired to AMI, storage, the web and the IVR.

One module per concern:

- ``hotline``: the coordinator (builds the parts, one TaskGroup, effects to parts)
- ``tasks``: task ownership (named tasks, failures logged at once, fatal ones stop)
- ``pbx_actions``: every AMI write, one ordered worker, typed helpers
- ``resync``: after a (re)connect or restart: snapshot, call-backs, CDR recovery
- ``heartbeat``: the CTI's liveness variable the dialplan checks
- ``callbacks``: placing queue call-backs (Originate)
- ``desktop``: lookups, screen-pop, the agent's view
- ``crm``: the external CRM client
- ``views``: JSON views of snapshots and rows
- ``call_control``: an agent's hang-up, transfer and disposition
- ``records``: the CDR writer, pending call-backs, dispositions
- ``facade``: what the web may ask (one method per command)
- ``supervision``: what the supervisor pages may ask (monitoring, staffing, audit)
- ``qa``: what the QA page may ask (its store, scorecard, recordings)
"""

from cti.domain.call_control import CallActionRefused
from cti.service.crm import CrmError, CrmLookup, HttpCrm
from cti.service.facade import DeskFacade
from cti.service.hotline import QUEUES, Hotline
from cti.service.qa import QaFacade
from cti.service.supervision import SupervisorFacade
from cti.service.views import call_json

__all__ = [
    "QUEUES",
    "CallActionRefused",
    "CrmError",
    "CrmLookup",
    "DeskFacade",
    "Hotline",
    "HttpCrm",
    "QaFacade",
    "SupervisorFacade",
    "call_json",
]
