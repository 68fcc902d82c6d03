"""The type checker sees the whole package (issue 17): `mypy.ini` skips no module of
`langgraph_alma` and loosens no check for one; and the runtime checks that stand where a
type cannot (a memory read back is the kind its namespace says, an MCP tool is an
`async def`: tests/mcp/test_tool_types.py) still refuse what the types let through."""

from __future__ import annotations

import configparser
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from langgraph.store.base import Item

from langgraph_alma.memory import items as it
from langgraph_alma.memory.types import AntiPattern, Heuristic

ROOT = Path(__file__).resolve().parent.parent

# Settings that make mypy look away from a module, with the value that does it.
LOOSENING = {
    "ignore_errors": "true",
    "follow_imports": "skip",
    "disallow_any_generics": "false",
    "disallow_untyped_defs": "false",
    "check_untyped_defs": "false",
    "warn_unused_ignores": "false",
}


def test_mypy_skips_no_module_of_the_package() -> None:
    config = configparser.ConfigParser()
    config.read(ROOT / "mypy.ini")
    loose = [
        (section, key)
        for section in config.sections()
        if "langgraph_alma" in section
        for key, value in config[section].items()
        if LOOSENING.get(key) == value.strip().lower()
    ]
    assert loose == []


def _item(value: dict[str, Any]) -> Item:
    now = datetime.now(UTC)
    return Item(
        value=value,
        key="h-1",
        namespace=("alma", "p", "heuristic", "a"),
        created_at=now,
        updated_at=now,
    )


def test_a_memory_read_back_as_its_kind_is_typed_and_another_kind_refused() -> None:
    heuristic = Heuristic(id="h-1", condition="c", strategy="s", task_type="t")
    item = _item(it.to_value(heuristic))
    found = it.from_item_as(item, Heuristic)
    assert isinstance(found, Heuristic) and found.strategy == "s"
    with pytest.raises(TypeError, match="holds 'heuristic', not 'anti_pattern'"):
        it.from_item_as(item, AntiPattern)


def test_every_type_ignore_says_why_on_its_line() -> None:
    """A `# type: ignore[code]` is a spot the checker cannot see through: each names its
    error code and, after it, why (a comment on the same line)."""
    bare = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted((ROOT / "langgraph_alma").rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if "type: ignore" in line
        and not re.search(r"# type: ignore\[[a-z-]+(, [a-z-]+)*\]  # \S", line)
    ]
    assert bare == []
