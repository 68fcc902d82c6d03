"""The ALMA facade: `Alma` (sync) and `AsyncAlma` (async), ALMA's public API on top of
`AlmaStore` (memories) and `AlmaSaver` (checkpoints).

Both drive the same `MemoryCore` and workflow plans. `_async.py` is written by hand and
`_sync.py` is generated from it (`scripts/unasync.py`), so each method exists once;
`config.py` reads `.alma/config.yaml`, `_base.py` holds what the two share.

>>> with Alma.connect(project_id="checkout", scopes={"helena": MemoryScope(
...         agent_name="helena", can_learn=["testing"])}) as alma:        # doctest: +SKIP
...     alma.learn("helena", "test the login form", "success", "happy path first",
...                task_type="testing")
...     print(alma.retrieve("test the signup form", agent="helena").to_prompt())
"""

from langgraph_alma.alma._async import AsyncAlma
from langgraph_alma.alma._base import MEMORY_EXACT_SEARCH_MAX, merge_slices
from langgraph_alma.alma._sync import Alma
from langgraph_alma.alma.config import AgentConfig, AlmaConfig

__all__ = [
    "MEMORY_EXACT_SEARCH_MAX",
    "AgentConfig",
    "Alma",
    "AlmaConfig",
    "AsyncAlma",
    "merge_slices",
]
