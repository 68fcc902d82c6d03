"""The domain notebooks (notebooks/*.ipynb): committed exactly as notebooks/build.py
generates them, and each one runs headless with nbclient on the test database, draws its
plot and shows its agent learning across runs."""

from __future__ import annotations

import base64
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import nbformat
import pytest
from ipykernel.kernelspec import write_kernel_spec
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient

from langgraph_alma.domains import DomainMemoryFactory

BUILD = Path(__file__).resolve().parents[2] / "notebooks" / "build.py"
CELL_TIMEOUT = 180  # seconds; generous because the CI machine is shared
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _load_build() -> ModuleType:
    """notebooks/build.py as a module (notebooks/ is not a package)."""
    spec = importlib.util.spec_from_file_location("notebooks_build", BUILD)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


build = _load_build()
DOMAINS = sorted(build.SCENARIOS)


def test_one_notebook_per_domain_preset() -> None:
    assert DOMAINS == ["coding", "research", "sales"]
    assert set(DOMAINS) <= set(DomainMemoryFactory.list_presets())


@pytest.mark.parametrize("domain", DOMAINS)
def test_committed_notebook_is_what_build_generates(domain: str) -> None:
    committed = build.path_of(domain).read_text(encoding="utf-8")
    assert committed == build.render(domain), "stale notebook: run python notebooks/build.py"


@pytest.mark.parametrize("domain", DOMAINS)
def test_generated_notebook_is_valid_and_has_no_outputs(domain: str) -> None:
    nb = nbformat.reads(build.render(domain), as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)
    assert nb.metadata.kernelspec.name == "python3"


def test_check_mode_reports_stale_notebooks(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(build, "HERE", tmp_path)
    assert build.stale() == DOMAINS  # nothing written yet
    assert build.main(["--check"]) == 1
    assert build.main([]) == 0
    assert build.main(["--check"]) == 0
    (tmp_path / "sales.ipynb").write_text("{}", encoding="utf-8")
    assert build.stale() == ["sales"]


@pytest.fixture
def kernel_env(tmp_path: Path, monkeypatch) -> None:
    """A `python3` kernelspec that runs this interpreter, ahead of any other on the
    Jupyter path: a user-level `python3` spec may point at a Python without the library,
    and a fresh venv may have none outside ipykernel's package."""
    data = tmp_path / "jupyter"
    write_kernel_spec(data / "kernels" / "python3")
    monkeypatch.setenv("JUPYTER_PATH", str(data))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    spec = KernelSpecManager().get_kernel_spec("python3")
    assert spec.argv[0] == sys.executable


def _outputs(nb: Any) -> list[Any]:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


def _summary(nb: Any) -> dict[str, Any]:
    """The JSON the notebook's last cell displays."""
    found = [
        o.data["application/json"] for o in _outputs(nb) if "application/json" in o.get("data", {})
    ]
    assert len(found) == 1, f"expected one JSON summary, found {len(found)}"
    return found[0]


@pytest.mark.parametrize("domain", DOMAINS)
def test_notebook_runs_and_its_agent_learns(
    domain: str, database, kernel_env, tmp_path: Path
) -> None:
    nb = nbformat.read(build.path_of(domain), as_version=4)
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(tmp_path)}},  # the kernel's working directory
    )
    env = {
        **os.environ,
        "ALMA_DATABASE_URL": database.url,
        "ALMA_ADMIN_DATABASE_URL": database.admin_url,
        "MPLBACKEND": "Agg",
    }
    client.execute(env=env)  # raises CellExecutionError, with the traceback, if a cell fails

    outputs = _outputs(nb)
    assert not [o for o in outputs if o.output_type == "error"]
    pngs = [o.data["image/png"] for o in outputs if "image/png" in o.get("data", {})]
    assert len(pngs) == 1 and base64.b64decode(pngs[0]).startswith(PNG_MAGIC)
    assert not (tmp_path / ".alma").exists(), "the notebook started its own server"

    summary = _summary(nb)
    assert summary["domain"] == domain and summary["runs"] == 30
    # Learning, three ways; with learning broken the agent would follow its habit (the
    # first strategy) every run and score exactly what the memoryless agent scores.
    assert summary["agent_successes"] >= 2 * summary["memoryless_successes"], summary
    assert summary["last_runs_success"] > summary["first_runs_success"], summary
    adapted = summary["last_choices"].count(summary["best_after_shift"])
    assert adapted >= 6, summary  # of the last 8 runs: it found the new best strategy
    assert summary["heuristics"] >= 1
