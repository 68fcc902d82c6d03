"""Every ```python block of the guides runs, against the test database, so the docs
cannot rot. Each block is a self-contained program; the tenant it names ("acme") is
replaced by a fresh one so blocks and test runs never see each other's data."""

from __future__ import annotations

import re

import pytest

from tests.conftest import Database
from tests.docs._markdown import DOCS, Block, python_blocks

GUIDES = ["domain-schemas.md", "scaling.md"]
BLOCKS = [b for name in GUIDES if (DOCS / name).exists() for b in python_blocks(DOCS / name)]
# A block that opens the database must name its tenant, so the test can isolate it.
OPENS_DATABASE = re.compile(
    r"\b(connect|from_conn_string|from_config|create_alma|create_(async_)?pool|ConnectionPool)\("
)


def test_guides_have_examples() -> None:
    counts = {name: sum(b.path.name == name for b in BLOCKS) for name in GUIDES}
    assert counts["domain-schemas.md"] >= 5, counts


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.id)
def test_example_runs(block: Block, database: Database, tenant: str) -> None:
    if OPENS_DATABASE.search(block.code):
        assert '"acme"' in block.code, f"{block.id} opens the database without tenant 'acme'"
    code = block.code.replace('"acme"', repr(tenant))
    namespace = {"__name__": "__main__"}
    exec(compile(code, str(block.id), "exec"), namespace)
