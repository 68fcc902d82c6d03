"""A working tree as git describes it (branch, changed files, recent commits, layout), for
an agent starting a session: `orient(path)`."""

from __future__ import annotations

import subprocess
from pathlib import Path

from pydantic import BaseModel, Field


class CodebaseOrientation(BaseModel):
    """What git says about a working tree (`error` when it could not be read)."""

    path: str
    branch: str | None = None
    changed_files: list[str] = Field(default_factory=list)
    recent_commits: list[str] = Field(default_factory=list)
    layout: list[str] = Field(default_factory=list)
    error: str | None = None


def orient(path: str | Path, commits: int = 5) -> CodebaseOrientation:
    """Branch, changed files, recent commits and top-level layout, read with git;
    outside a repository (or without git) the result says why instead of raising."""
    root = Path(path)

    def git(*args: str) -> list[str]:
        done = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10, check=True
        )
        return [line for line in done.stdout.splitlines() if line.strip()]

    try:
        branch = git("rev-parse", "--abbrev-ref", "HEAD")
        return CodebaseOrientation(
            path=str(root),
            branch=branch[0] if branch else None,
            changed_files=[line[3:] for line in git("status", "--porcelain")],
            recent_commits=git("log", f"-{commits}", "--oneline") if branch else [],
            layout=sorted({p.split("/")[0] for p in git("ls-files")}),
        )
    except (OSError, subprocess.SubprocessError) as exc:
        reason = getattr(exc, "stderr", None) or str(exc)
        return CodebaseOrientation(path=str(root), error=str(reason).strip()[:200])
