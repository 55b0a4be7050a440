"""The dialplan contract (cti/dialplan.py) and asterisk-conf/extensions.conf agree,
and the Python code names dialplan variables and contexts only through the contract."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from cti import dialplan
from cti.supervision.spy import SpyMode

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "asterisk-conf" / "extensions.conf"
NOT_CONTEXTS = {"general", "globals"}
VARIABLE = re.compile(r"HOTLINE_[A-Z_]+")


def sections(text: str) -> dict[str, str]:
    """Section name -> its dialplan lines, comments stripped."""
    found: dict[str, list[str]] = {}
    current = ""
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].rstrip()
        header = re.match(r"^\[([\w-]+)\]", line)
        if header:
            current = header.group(1)
            found[current] = []
        elif current and line:
            found[current].append(line)
    return {name: "\n".join(lines) for name, lines in found.items()}


SECTIONS = sections(CONF.read_text(encoding="utf-8"))


def test_every_variable_of_the_dialplan_is_in_the_contract() -> None:
    used = {name for body in SECTIONS.values() for name in VARIABLE.findall(body)}
    assert used, "no HOTLINE_ variables found in extensions.conf"
    assert used - set(dialplan.SECTIONS) == set()


@pytest.mark.parametrize(
    "name", sorted(n for n, s in dialplan.SECTIONS.items() if s != dialplan.FASTAGI_ONLY)
)
def test_each_contract_variable_is_used_in_its_section(name: str) -> None:
    section = dialplan.SECTIONS[name]
    assert section in SECTIONS, f"{name}: no section [{section}] in extensions.conf"
    assert name in VARIABLE.findall(SECTIONS[section]), f"{name} is not used in [{section}]"


def test_variables_only_the_ivr_sets_are_not_in_the_dialplan() -> None:
    fastagi = {n for n, s in dialplan.SECTIONS.items() if s == dialplan.FASTAGI_ONLY}
    used = {name for body in SECTIONS.values() for name in VARIABLE.findall(body)}
    assert fastagi, "the contract declares the IVR's own variables"
    assert fastagi & used == set(), "used by the dialplan: declare the section"


def test_contexts_of_the_contract_and_the_dialplan_are_the_same() -> None:
    assert set(SECTIONS) - NOT_CONTEXTS == set(dialplan.CONTEXTS)
    assert dialplan.INBOUND_CONTEXTS <= dialplan.CONTEXTS
    assert dialplan.CDR_CONTEXTS <= dialplan.CONTEXTS


def test_extensions_the_cti_sends_callers_to_exist() -> None:
    for context, exten in (
        (dialplan.WAIT_CONTEXT, "s"),
        (dialplan.WAIT_CONTEXT, dialplan.REQUEUE_EXTEN),
        (dialplan.OFFER_CONTEXT, "s"),
        (dialplan.CALLBACK_CONTEXT, "s"),
        (dialplan.CALLBACK_CUSTOMER_CONTEXT, "s"),
        *((dialplan.SPY_CONTEXT, mode.value) for mode in SpyMode),
        (dialplan.SPY_CHECK_CONTEXT, "s"),
    ):
        assert re.search(rf"^exten => {exten},1,", SECTIONS[context], re.M), (context, exten)
    assert re.search(r"^exten => _1XXX,1,", SECTIONS[dialplan.AGENTS_CONTEXT], re.M)
    assert str(dialplan.RECORDINGS_DIR) in CONF.read_text(encoding="utf-8")


def _string_literals(path: Path) -> list[tuple[int, str]]:
    """String constants of a module, docstrings left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_python_code_names_the_dialplan_only_through_the_contract() -> None:
    contexts = {c for c in dialplan.CONTEXTS if "-" in c}  # "hotline", "agents": common words
    copies = []
    for folder in ("cti", "ivr", "recordings"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == ROOT / "cti" / "dialplan.py":
                continue
            for line, text in _string_literals(path):
                names = set(VARIABLE.findall(text)) & set(dialplan.SECTIONS)
                if names or text in contexts or text == str(dialplan.RECORDINGS_DIR):
                    copies.append(f"{path.relative_to(ROOT)}:{line}: {text!r}")
    assert copies == []
