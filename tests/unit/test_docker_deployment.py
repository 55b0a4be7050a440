"""docker-compose.yml keeps what must outlive a container, and the two images agree.

No Docker engine runs here: these checks read the files the deployment is made of.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import PurePosixPath
from typing import Any

import yaml
from pydantic import SecretStr

from cti.config import PROJECT_ROOT, Settings

COMPOSE = PROJECT_ROOT / "docker-compose.yml"
ASTERISK_IMAGE = PROJECT_ROOT / "docker" / "asterisk" / "Dockerfile"
CTI_IMAGE = PROJECT_ROOT / "docker" / "cti" / "Dockerfile"


def services() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data["services"]  # type: ignore[no-any-return]


def named_volumes(service: dict[str, Any]) -> dict[PurePosixPath, str]:
    """Mount point -> named volume (bind mounts of files left out)."""
    found = {}
    for entry in service.get("volumes", []):
        source, target = entry.split(":")[:2]
        if not source.startswith((".", "/")):
            found[PurePosixPath(target)] = source
    return found


def volume_holding(service: dict[str, Any], path: str) -> str | None:
    target = PurePosixPath(path)
    for mount, volume in named_volumes(service).items():
        if target == mount or mount in target.parents:
            return volume
    return None


def test_the_cti_database_lives_in_a_volume() -> None:
    cti = services()["cti"]
    url = cti["environment"]["HOTLINE_DATABASE_URL"]
    assert url.startswith("sqlite+aiosqlite:////")
    assert volume_holding(cti, url.removeprefix("sqlite+aiosqlite:///")) == "cti-data"


def test_asterisks_cdr_file_is_shared_with_the_cti() -> None:
    both = services()
    cdr_file = both["cti"]["environment"]["HOTLINE_ASTERISK_CDR_FILE"]
    assert cdr_file == "/var/log/asterisk/cdr-custom/hotline-cdr.json"
    shared = volume_holding(both["cti"], cdr_file)
    assert shared is not None
    assert volume_holding(both["asterisk"], cdr_file) == shared  # where Asterisk writes it
    cdr_conf = (PROJECT_ROOT / "asterisk-conf" / "cdr_custom.conf").read_text()
    assert "hotline-cdr.json" in cdr_conf


def test_recordings_are_shared_and_the_cti_runs_unprivileged() -> None:
    both = services()
    path = both["cti"]["environment"]["HOTLINE_RECORDINGS_DIR"]
    assert volume_holding(both["cti"], path) == volume_holding(both["asterisk"], path)
    image = CTI_IMAGE.read_text()
    assert re.search(r"^USER hotline$", image, re.M)
    assert "--gid 61000 asterisk" in ASTERISK_IMAGE.read_text()
    assert "--gid 61000 asterisk" in image


def test_the_asterisk_image_derives_the_fastagi_secret_like_the_cti() -> None:
    image = ASTERISK_IMAGE.read_text()
    assert "HOTLINE_AGI_SECRET = $agi_secret" in image
    code = re.search(r"python3 -c '([^']*hotline fastagi[^']*)'", image)
    assert code is not None
    secret = "ami-secret-of-a-site"
    derived = (
        subprocess.run(
            [sys.executable, "-c", code.group(1)],
            input=secret.encode(),
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )
    assert derived == Settings(ami_secret=SecretStr(secret)).effective_agi_secret
