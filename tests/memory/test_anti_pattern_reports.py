"""An anti-pattern is a warning pointing at the caller's own line for library callers,
and one structured log record (no warning) inside `anti_patterns_logged`, as servers run."""

from __future__ import annotations

import json
import logging
import warnings

import pytest

from langgraph_alma.memory.core import AntiPatternWarning, anti_patterns_logged


def _fail(alma, times: int) -> None:
    for i in range(times):
        alma.learn("helena", f"form {i}", "failure", "sleep before asserting", task_type="forms")


def test_the_warning_points_at_the_callers_line(alma) -> None:
    _fail(alma, 2)
    with pytest.warns(AntiPatternWarning) as caught:
        alma.learn("helena", "form x", "failure", "sleep before asserting", task_type="forms")
    assert caught[0].filename == __file__  # this line, not the library's


def test_inside_a_server_it_is_one_log_record(alma, caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tests.alma.server")
    with anti_patterns_logged(logger), warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning would raise
        with caplog.at_level(logging.WARNING, logger=logger.name):
            _fail(alma, 3)
    records = [r for r in caplog.records if r.name == logger.name]
    assert len(records) == 2 and all(r.levelno == logging.WARNING for r in records)
    line = records[-1].getMessage()
    assert "\n" not in line
    fields = json.loads(line.split(" ", 2)[2])
    assert fields["agent"] == "helena" and fields["failures"] == 3
    assert fields["strategy"] == "sleep before asserting"
