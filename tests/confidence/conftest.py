"""Reuse the memory layer's fixtures: `make_alma` on a real store, a test clock."""

from tests.memory.conftest import _indexed, clock, make_alma, pool  # noqa: F401
