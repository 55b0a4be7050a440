"""IVR prompts rendered with espeak-ng and sox as 8 kHz mono WAV.

A site replaces any of them by dropping a recorded file of the same name
into the prompts directory; files that exist are never overwritten.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

VOICES = {"en": "en-us", "zh": "cmn-latn-pinyin"}

PROMPTS: dict[str, dict[str, str]] = {
    "en": {
        "main-menu": (
            "Welcome to the hotline. For billing, press 1. For technical support, "
            "press 2. For your account and security, press 3."
        ),
        "invalid": "Sorry, that is not a valid choice. Please try again.",
        "please-hold": "Please hold, the next available agent will take your call.",
    },
}


class PromptError(RuntimeError):
    pass


def render_prompts(target: Path) -> list[Path]:
    """Render missing prompts into ``target/<name>.wav`` (English at the top level)."""
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise PromptError(f"{tool} is not installed: cannot render IVR prompts")
    written: list[Path] = []
    for language, texts in PROMPTS.items():
        folder = target if language == "en" else target / language
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in texts.items():
            out = folder / f"{name}.wav"
            if out.exists():
                continue
            render(text, VOICES[language], out)
            written.append(out)
    return written


def render(text: str, voice: str, out: Path) -> None:
    tmp = out.with_suffix(".tmp.wav")
    speech = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", "150", "--stdout", text],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(
        [
            "sox",
            "-D",
            "-t",
            "wav",
            "-",
            "-r",
            "8000",
            "-c",
            "1",
            "-b",
            "16",
            "-e",
            "signed-integer",
            str(tmp),
            "norm",
            "-3",
        ],
        input=speech,
        check=True,
        capture_output=True,
    )
    tmp.replace(out)
