"""`Alma.from_config`: YAML with agents and their scopes; unknown keys are errors."""

from __future__ import annotations

import pytest

from langgraph_alma.alma import Alma, AlmaConfig
from langgraph_alma.errors import ConfigError, ScopeViolation


def test_config_builds_scopes_and_rejects_unknown_keys(tmp_path, database, tenant) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(f"""
database_url: "{database.url}"
tenant_id: {tenant}
project_id: shop
agents:
  helena:
    can_learn: [testing]
    min_occurrences_for_heuristic: 2
""")
    with Alma.from_config(path, setup=False) as alma:
        assert alma.core.project_id == "shop" and alma.store.tenant_id == tenant
        for i in range(2):
            alma.learn("helena", f"t{i}", "success", "small steps", task_type="testing")
        assert len(alma.retrieve("testing", agent="helena").heuristics) == 1  # 2 suffice
        with pytest.raises(ScopeViolation):
            alma.learn("helena", "t", "success", "x", task_type="sales")

    path.write_text("project_id: shop\nagnets: {}\n")
    with pytest.raises(ConfigError, match="agnets"):
        AlmaConfig.load(path)
    path.write_text("agents:\n  helena:\n    can_lern: [x]\n")
    with pytest.raises(ConfigError, match="can_lern"):
        AlmaConfig.load(path)
    with pytest.raises(ConfigError, match="cannot read"):
        AlmaConfig.load(tmp_path / "missing.yaml")
