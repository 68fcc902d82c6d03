#!/usr/bin/env bash
# Run the test suite against the oldest versions pyproject.toml allows
# (scripts/constraints-oldest.txt), in a venv of its own, so that each `>=` was tested.
#
#   bash scripts/oldest_deps.sh            # all but the extras' tests
#   bash scripts/oldest_deps.sh -x -q      # extra arguments go to pytest
#
# The extras (openai, mcp, studio, notebooks, docs) and the tests that need them are left
# out: they bring their own, newer floors (mcp needs pydantic>=2.12), which would hide the
# core's. Run it when a lower bound changes.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${OLDEST_VENV:-.ci-build/oldest-venv}"
python3 -m venv --clear "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/pip" install --quiet -c scripts/constraints-oldest.txt -e . \
    pytest pytest-asyncio pytest-timeout hypothesis langgraph-checkpoint-conformance
"$venv/bin/pip" check
"$venv/bin/pip" list 2>/dev/null | grep -iE "^(langgraph|langchain-core|psycopg|pydantic|pyyaml|embedded|typer|rich) "
"$venv/bin/python" -m pytest -p no:cacheprovider \
    --ignore=tests/mcp --ignore=tests/studio --ignore=tests/notebooks \
    --ignore=tests/extraction/test_openai.py --ignore=tests/docs/test_api_reference.py \
    --ignore=tests/transfer/test_alma_memory_import.py \
    --ignore=tests/transfer/test_alma_memory_mapping.py --ignore=tests/cli/test_transfer.py \
    --ignore=tests/packaging "$@"
