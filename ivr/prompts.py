"""IVR prompts rendered with espeak-ng and sox as 8 kHz mono WAV.

A site replaces any of them by dropping a recorded file of the same name
into the prompts directory; files that exist are never overwritten.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path, PurePosixPath

VOICES = {"en": "en-us", "zh": "cmn-latn-pinyin"}

#: Where the prompts live inside Asterisk: <root>/<language>/<name>.wav
PROMPTS_ROOT = PurePosixPath("/var/lib/asterisk/sounds/hotline")

PROMPTS: dict[str, dict[str, str]] = {
    "en": {
        "language": "For English, press 1. Zhong wen qing an 2.",
        "main-menu": (
            "Welcome to the hotline. For billing, press 1. For technical support, "
            "press 2. For your account and security, press 3."
        ),
        "invalid": "Sorry, that is not a valid choice. Please try again.",
        "please-hold": "Please hold, the next available agent will take your call.",
        "closed": "The hotline is closed now. Please call again during business hours.",
        "account-number": "Please enter your account number, then press hash.",
        "pin": "Please enter your four digit PIN.",
        "pin-wrong": "Sorry, that did not match. Please enter your PIN again.",
        "voicemail": (
            "The hotline is closed now. Please leave a message after the tone, "
            "then press hash or hang up."
        ),
        "voicemail-thanks": "Thank you, your message has been recorded. Goodbye.",
        "transfer": "Please hold while we transfer your call.",
        "survey": (
            "Thank you for your call. Please rate our service from 1 to 5, where 5 is excellent."
        ),
        "survey-invalid": "Sorry, please press a number from 1 to 5.",
        "survey-thanks": "Thank you for your feedback. Goodbye.",
        "survey-goodbye": "Thank you for calling. Goodbye.",
        "nps": (
            "How likely are you to recommend us to a friend, from 0 to 10? "
            "Press the number, then hash."
        ),
        "nps-invalid": "Sorry, please press a number from 0 to 10, then hash.",
        "crisis": (
            "We are handling an emergency and receive many calls. "
            "Please stay on the line, an agent will answer as soon as possible."
        ),
        # queue announcements: "<queue-position> <num-N>. <queue-wait> <num-M> <queue-minutes>"
        "queue-position": "Thank you for waiting. You are caller number",
        "queue-position-many": (
            "Thank you for waiting. There are more than twenty callers ahead of you."
        ),
        "queue-position-end": "in line.",
        "queue-wait": "Your estimated wait is about",
        "queue-minutes": "minutes.",
        "queue-wait-short": "Your estimated wait is less than a minute.",
        "queue-wait-long": "Your estimated wait is more than twenty minutes.",
        "callback-offer": (
            "To be called back when it is your turn, without losing your place, press 1."
        ),
        "callback-confirm": "We will call you back at the number ending in",
        "callback-confirm-press": "To confirm, press 1. To keep waiting, press 2.",
        "callback-thanks": "Thank you. We will call you back when it is your turn. Goodbye.",
        "callback-sorry": (
            "We are sorry, no agent could take your call just now. We will call you again."
        ),
    },
    # Mandarin in pinyin with tone numbers (espeak-ng's cmn-latn-pinyin voice)
    "zh": {
        "language": "For English, press 1. Zhong1 wen2 qing3 an4 er4.",
        "main-menu": (
            "huan1 ying2 zhi4 dian4 re4 xian4. zhang4 dan1 wen4 ti2 qing3 an4 yi1. "
            "ji4 shu4 zhi1 chi2 qing3 an4 er4. zhang4 hu4 yu3 an1 quan2 qing3 an4 san1."
        ),
        "invalid": "dui4 bu qi3, nin2 de xuan3 ze2 wu2 xiao4, qing3 zai4 shi4 yi2 ci4.",
        "please-hold": "qing3 shao1 hou4, ke4 fu2 ren2 yuan2 ma3 shang4 wei4 nin2 fu2 wu4.",
        "closed": (
            "xian4 zai4 shi4 fei1 gong1 zuo4 shi2 jian1, "
            "qing3 zai4 gong1 zuo4 shi2 jian1 zai4 lai2 dian4."
        ),
        "account-number": "qing3 shu1 ru4 nin2 de zhang4 hao4, ran2 hou4 an4 jing3 hao4 jian4.",
        "pin": "qing3 shu1 ru4 nin2 de si4 wei4 mi4 ma3.",
        "pin-wrong": "dui4 bu qi3, yan4 zheng4 shi1 bai4. qing3 zai4 ci4 shu1 ru4 mi4 ma3.",
        "voicemail": (
            "xian4 zai4 shi4 fei1 gong1 zuo4 shi2 jian1. qing3 zai4 di1 sheng1 hou4 liu2 yan2, "
            "wan2 cheng2 hou4 an4 jing3 hao4 jian4 huo4 gua4 duan4."
        ),
        "voicemail-thanks": "xie4 xie, nin2 de liu2 yan2 yi3 lu4 zhi4. zai4 jian4.",
        "transfer": "qing3 shao1 hou4, zheng4 zai4 wei4 nin2 zhuan3 jie1.",
        "survey": (
            "gan3 xie4 nin2 de lai2 dian4. qing3 wei4 wo3 men2 de fu2 wu4 da3 fen1, "
            "yi1 dao4 wu3 fen1, wu3 fen1 wei2 fei1 chang2 man3 yi4."
        ),
        "survey-invalid": "dui4 bu qi3, qing3 an4 yi1 dao4 wu3 zhi1 jian1 de shu4 zi4.",
        "survey-thanks": "xie4 xie nin2 de ping2 jia4. zai4 jian4.",
        "survey-goodbye": "xie4 xie nin2 de lai2 dian4. zai4 jian4.",
        "nps": (
            "nin2 you3 duo1 da4 ke3 neng2 xiang4 peng2 you3 tui1 jian4 wo3 men2? "
            "qing3 an4 ling2 dao4 shi2 de shu4 zi4, ran2 hou4 an4 jing3 hao4 jian4."
        ),
        "nps-invalid": (
            "dui4 bu qi3, qing3 an4 ling2 dao4 shi2 de shu4 zi4, ran2 hou4 an4 jing3 hao4 jian4."
        ),
        "crisis": (
            "wo3 men2 zheng4 zai4 chu3 li3 jin3 ji2 qing2 kuang4, lai2 dian4 jiao4 duo1. "
            "qing3 bu2 yao4 gua4 ji1, ke4 fu2 ren2 yuan2 hui4 jin4 kuai4 jie1 ting1."
        ),
        "queue-position": "gan3 xie4 nin2 de nai4 xin1 deng3 dai4. nin2 shi4 di4",
        "queue-position-many": (
            "gan3 xie4 nin2 de nai4 xin1 deng3 dai4. "
            "nin2 qian2 mian4 you3 er4 shi2 wei4 yi3 shang4."
        ),
        "queue-position-end": "wei4.",
        "queue-wait": "yu4 ji4 deng3 dai4 yue1",
        "queue-minutes": "fen1 zhong1.",
        "queue-wait-short": "yu4 ji4 deng3 dai4 bu4 dao4 yi4 fen1 zhong1.",
        "queue-wait-long": "yu4 ji4 deng3 dai4 chao1 guo4 er4 shi2 fen1 zhong1.",
        "callback-offer": (
            "ru2 xu1 zai4 lun2 dao4 nin2 shi2 hui2 dian4, bao3 liu2 pai2 dui4, qing3 an4 yi1."
        ),
        "callback-confirm": "wo3 men2 jiang1 hui2 dian4 dao4 wei3 hao4 wei2",
        "callback-confirm-press": "que4 ren4 qing3 an4 yi1, ji4 xu4 deng3 dai4 qing3 an4 er4.",
        "callback-thanks": "xie4 xie. lun2 dao4 nin2 shi2 wo3 men2 hui4 hui2 dian4. zai4 jian4.",
        "callback-sorry": (
            "bao4 qian4, xian4 zai4 mei2 you3 ke4 fu2 ke3 yi3 jie1 ting1. "
            "wo3 men2 hui4 zai4 hui2 dian4."
        ),
    },
}

#: Numbers 1..MAX_SPOKEN_NUMBER are prompts "num-<n>" in every language.
MAX_SPOKEN_NUMBER = 20
_ZH_DIGITS = ["", "yi1", "er4", "san1", "si4", "wu3", "liu4", "qi1", "ba1", "jiu3"]


def _zh_number(n: int) -> str:
    tens, units = divmod(n, 10)
    if tens == 0:
        return _ZH_DIGITS[units]
    head = "shi2" if tens == 1 else f"{_ZH_DIGITS[tens]} shi2"
    return f"{head} {_ZH_DIGITS[units]}".strip()


PROMPTS["en"]["num-0"] = "0"
PROMPTS["zh"]["num-0"] = "ling2"
for _n in range(1, MAX_SPOKEN_NUMBER + 1):
    PROMPTS["en"][f"num-{_n}"] = str(_n)
    PROMPTS["zh"][f"num-{_n}"] = _zh_number(_n)


def prompt_names(language: str = "en") -> set[str]:
    """Names a flow may use (the rendered set; a site's extra files are added at load)."""
    return set(PROMPTS[language])


class PromptError(RuntimeError):
    pass


def render_prompts(target: Path) -> list[Path]:
    """Render missing prompts into ``target/<language>/<name>.wav``."""
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise PromptError(f"{tool} is not installed: cannot render IVR prompts")
    written: list[Path] = []
    for language, texts in PROMPTS.items():
        folder = target / language
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
