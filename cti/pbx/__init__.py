"""Provisioning of the Asterisk PBX that hotline runs on (local and test use).

Production runs Asterisk from ``docker/asterisk/Dockerfile``; this package
builds and runs the same Asterisk from a Debian sid root filesystem under
``chroot`` so developers and CI get a real PBX without a container engine.
"""

from cti.pbx.runtime import (
    CHROOT_RECORDINGS_DIR,
    AsteriskStatus,
    PbxError,
    asterisk_cli,
    build,
    cdr_file,
    log_dir,
    log_problems,
    recording_path_in_host,
    start,
    status,
    stop,
)

__all__ = [
    "CHROOT_RECORDINGS_DIR",
    "AsteriskStatus",
    "PbxError",
    "asterisk_cli",
    "build",
    "cdr_file",
    "log_dir",
    "log_problems",
    "recording_path_in_host",
    "start",
    "status",
    "stop",
]
