"""The CLI as a user runs it: the product's commands against the ADO emulator (HTTP on 127.0.0.1) and AWS in
moto (in this process; `CliRunner` runs the command here too)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from adoscale.cli import app
from adoscale.cli.commands import register
from adoscale_lab.emulator import AdoModel
from tests.aws import config_for, ecs_world
from tests.conftest import PAT


@dataclass
class CliWorld:
    path: Path
    model: AdoModel
    body: dict[str, Any]
    ecs: Any

    def write(self, **changes: Any) -> Path:
        self.path.write_text(json.dumps(self.body | changes))
        return self.path


def invoke(*args: str, columns: int = 100) -> Result:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": str(columns)})


@pytest.fixture
def cli_world(tmp_path: Path, model: AdoModel, org_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliWorld]:
    """A pool `linux` (max 3 agents) in the emulator with its placeholder, its ECS world in moto, and the
    configuration in a file; AZP_TOKEN set."""
    register()
    monkeypatch.setenv("AZP_TOKEN", PAT)
    pool = model.create_pool("linux")
    model.register_agent(pool, "adoscale-placeholder", online=False)
    with ecs_world() as (ecs, resources):
        config = config_for(resources, org_url, [{"name": "linux", "max_agents": 3}])
        body = json.loads(config.model_dump_json(exclude_none=True))
        world = CliWorld(tmp_path / "adoscale.json", model, body, ecs)
        world.write()
        yield world
