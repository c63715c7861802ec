"""Container overrides over ECS's 8,192 characters are refused when the configuration is validated, and
validation measures what adoscale actually sends: it accepts a pool exactly when the RunTask that the ECS
adapter builds for it keeps to the rule (judged by `adoscale_lab.moto_rules.ecs`, written from the API reference)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from adoscale.cli import app
from adoscale.cli.commands import register
from adoscale.compute import EcsCompute
from adoscale.config import ConfigError, parse_config
from adoscale.config.overrides import container_overrides
from adoscale_lab.moto_rules.ecs import OVERRIDES_MAX, overrides_chars, overrides_violations

POOL = "Linux Docker (x64) v2.0"


def _document(environment: dict[str, str], url: str = "https://dev.azure.com/contoso", name: str = POOL) -> str:
    ecs = {"cluster": "agents", "task_definition": "agent", "subnets": ["subnet-1"], "environment": environment}
    pools = [{"name": "small", "ecs": {**ecs, "environment": {}}}, {"name": name, "ecs": ecs}]
    # Written as UTF-8 text: PyYAML reads JSON's surrogate-pair escapes (astral characters) as lone surrogates.
    return json.dumps({"organization_url": url, "pools": pools}, ensure_ascii=False)


class _RecordingEcs:
    """Just enough of an ECS client to see the RunTask the adapter would send."""

    def __init__(self) -> None:
        self.run_task_calls: list[dict[str, Any]] = []

    def run_task(self, **params: Any) -> dict[str, Any]:
        self.run_task_calls.append(params)
        return {"tasks": [], "failures": []}


def _sent_overrides(text: str) -> Any:
    config = parse_config(text, "c.yaml")
    ecs = _RecordingEcs()
    EcsCompute.for_config(ecs, config).launch(config.pools[1].name, 1, token="t")
    return ecs.run_task_calls[0]["overrides"]


def test_the_issue_s_100_entries_of_4096_characters_are_refused_naming_file_pool_and_field(tmp_path: Path) -> None:
    register()
    path = tmp_path / "adoscale.yaml"
    path.write_text(_document({f"VAR_{i:03}": "x" * 4096 for i in range(100)}))
    result = CliRunner().invoke(app, ["config", "validate", str(path)])
    assert result.exit_code == 2
    with pytest.raises(ConfigError) as caught:
        parse_config(path.read_text(), str(path))
    [error] = caught.value.errors
    assert str(path) in error and f"pools[1] ({POOL})" in error and "ecs.environment" in error and "8192" in error


# Extra values with characters that JSON escapes (quotes, control characters, non-ASCII, astral), where
# the length ECS might count and the length sent differ the most.
VALUE = st.text(st.sampled_from(list('ab"\\\n\té中\U0001f600')), min_size=0, max_size=40)


@given(st.lists(VALUE, min_size=0, max_size=4), st.integers(min_value=0, max_value=200), st.integers(-40, 40))
def test_validation_accepts_a_pool_exactly_when_its_runtask_keeps_to_the_limit(
    extras: list[str], url_length: int, off_limit: int
) -> None:
    url = "https://dev.azure.com/" + "o" * url_length
    environment = {"FILLER_A": "x" * 4050, **{f"EXTRA_{i}": value for i, value in enumerate(extras)}}
    # A second filler brings the request to within 40 characters of the limit, by the rule book's measure
    # (each value may hold 4,096 characters, so it takes two).
    without = overrides_chars(container_overrides("agent", POOL, url, {**environment, "FILLER_B": ""}))
    environment["FILLER_B"] = "x" * (OVERRIDES_MAX - without + off_limit)
    text = _document(environment, url)
    fits = overrides_violations(container_overrides("agent", POOL, url, environment)) == []
    assert fits is (off_limit <= 0)
    if fits:
        assert overrides_violations(_sent_overrides(text)) == []
    else:
        with pytest.raises(ConfigError, match=r"ecs\.environment: the agent container's overrides"):
            parse_config(text, "c.yaml")


def test_azp_url_from_the_environment_is_what_is_measured() -> None:
    """AZP_URL replaces organization_url before validation, and it is the URL the tasks receive."""
    environment = {"FILLER_A": "x" * 4000, "FILLER_B": "x" * 3900}
    text = _document(environment)
    parse_config(text, "c.yaml")
    with pytest.raises(ConfigError, match=r"ecs\.environment"):
        parse_config(text, "c.yaml", organization_url="https://dev.azure.com/" + "o" * 400)
