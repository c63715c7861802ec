"""Arbitrary YAML and JSON into the loader, through the real CLI: exit 0 or 2, never anything else, and
never slow. Values are arbitrary documents, and the good file with one value replaced or one key added."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from adoscale.cli import app
from adoscale.cli.commands import register
from tests.cpu import cpu_time
from tests.hostile.paths import paths

# Per file, measured: the loader reads, parses and validates a capped-size document; a second is generous
# and two orders of magnitude under what the unbounded loader took. The bound is on this thread's CPU time,
# not the wall clock: on CI's shared 2-core runner a 2-byte file once took 1.4 s of wall time waiting for a
# core (CI, 2026-12-05; alone, the same file takes 0.01 s, cold), while a loader that blows up on its input burns
# CPU in this thread and still fails the bound. The collector's passes over other tests' objects are left out
# (tests/cpu.py).
TIME_BOUND_S = 1.0

GOOD: dict[str, Any] = {
    "organization_url": "https://dev.azure.com/contoso",
    "pat_secret": "ado/pat",
    "pools": [
        {
            "name": "linux",
            "min_agents": 0,
            "max_agents": 20,
            "standby_agents": 1,
            "idle_timeout_seconds": 300,
            "capabilities": ["docker"],
            "ecs": {
                "cluster": "c",
                "task_definition": "t",
                "subnets": ["s"],
                "capacity_provider_strategy": [{"capacity_provider": "FARGATE_SPOT", "weight": 1}],
            },
        }
    ],
    "environments": [{"project": "p", "name": "e", "grace_seconds": 900}],
}

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(["", "1e23", "true", "yes", "~", "0x1F", "FARGATE", "*ref", "&a", "<<", "!!python/none"])
)
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=25,
)


PATHS = paths(GOOD)[1:]


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    document = copy.deepcopy(GOOD)
    path = draw(st.sampled_from(PATHS))
    parent = document
    for part in path[:-1]:
        parent = parent[part]
    if draw(st.booleans()):
        parent[path[-1]] = draw(values)
    elif isinstance(parent, dict):
        parent[draw(st.text(max_size=12))] = draw(values)
    return document


@st.composite
def documents(draw: st.DrawFn) -> bytes:
    value = draw(values | mutated())
    form = draw(st.sampled_from(["yaml", "json", "flow"]))
    if form == "json":
        text = json.dumps(value)
    else:
        text = yaml.safe_dump(value, default_flow_style=form == "flow", allow_unicode=True)
    return text.encode()


raw_text = st.binary(max_size=300) | st.text(max_size=300).map(str.encode)


@pytest.fixture(scope="module", autouse=True)
def _commands() -> None:
    register()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=documents() | raw_text)
def test_any_document_exits_0_or_2_quickly(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_bytes(content)
    with cpu_time() as cpu:
        result = CliRunner().invoke(app, ["config", "validate", str(path)])
    elapsed = cpu.seconds
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code in (0, 2), result.output
    event(f"exit {result.exit_code}")
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        assert str(path) in result.output  # every refusal names the file
    assert elapsed < TIME_BOUND_S, f"{elapsed:.3f} s of CPU for {len(content)} bytes"
