"""Imported by Python at start-up when this folder is on PYTHONPATH: the top-level modules
named in ALMA_HIDE_MODULES (comma-separated) cannot be imported, as if the extras that
bring them were not installed. Child processes inherit it through the environment."""

from __future__ import annotations

import os
import sys
from importlib.abc import MetaPathFinder

HIDDEN = frozenset(m for m in os.environ.get("ALMA_HIDE_MODULES", "").split(",") if m)


class HideModules(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):  # noqa: ANN001, ANN201
        if name.partition(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


if HIDDEN:
    sys.meta_path.insert(0, HideModules())
