"""Reading the docs as data: their fenced code blocks and their relative links. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

_FENCE = re.compile(r"^```(?P<lang>[\w+-]*)[^\n]*\n(?P<body>.*?)^```[ \t]*$", re.M | re.S)
# [text](target) and ![alt](target), not inside code spans or blocks (stripped first).
_LINK = re.compile(r"!?\[[^\]]*\]\((?P<target>[^)\s]+)(?:\s+\"[^\"]*\")?\)")
_CODE_SPAN = re.compile(r"`[^`\n]*`")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # line of the opening fence, 1-based
    code: str

    @property
    def id(self) -> str:
        return f"{self.path.name}:{self.line}"


def python_blocks(path: Path) -> list[Block]:
    """Every ```python block of a markdown file, in order."""
    text = path.read_text()
    return [
        Block(path, text.count("\n", 0, m.start()) + 1, m["body"])
        for m in _FENCE.finditer(text)
        if m["lang"] == "python"
    ]


def links(path: Path) -> list[str]:
    """Targets of the markdown links of a file, outside code."""
    text = _CODE_SPAN.sub("", _FENCE.sub("", path.read_text()))
    return [m["target"] for m in _LINK.finditer(text)]


def heading_anchors(path: Path) -> set[str]:
    """GitHub's anchors of a markdown file's headings (lowercase, punctuation dropped,
    spaces to hyphens)."""
    text = _FENCE.sub("", path.read_text())
    anchors = set()
    for line in text.splitlines():
        if m := re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line):
            title = _CODE_SPAN.sub(lambda s: s[0].strip("`"), m[1]).lower()
            anchors.add(re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", title)))
    return anchors
