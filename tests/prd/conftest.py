"""The memory layer's fixtures: `make_alma` on a real AlmaStore, a test clock."""

from tests.memory.conftest import _indexed, clock, make_alma, pool

__all__ = ["_indexed", "clock", "make_alma", "pool"]
