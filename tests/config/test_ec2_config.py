"""An `ec2` pool (one instance per job): `config validate` accepts it, and a pool has exactly one placement."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from adoscale.cli import app
from adoscale.cli.commands import register
from adoscale.config import ConfigError, load_config

ECS = """\
    ecs:
      cluster: ado-agents
      task_definition: ado-agent
      subnets: [subnet-0abc]
"""
EC2 = """\
    ec2:
      launch_template: adoscale-docker
      instance_types: [m7i.large, m6i.large]
      subnets: [subnet-0abc, subnet-0def]
      spot: true
      on_demand_fallback: true
      allocation_strategy: capacity-optimized
      root_volume_gb: 100
"""
HEAD = """\
organization_url: https://dev.azure.com/contoso
pools:
  - name: linux-fargate
    capabilities: [java]
{ecs}  - name: linux-docker
    capabilities: [docker]
{second}"""


@pytest.fixture(autouse=True)
def _commands() -> None:
    register()


def _write(tmp_path: Path, second: str) -> Path:
    path = tmp_path / "adoscale.yaml"
    path.write_text(HEAD.format(ecs=ECS, second=second))
    return path


def test_config_validate_accepts_an_ec2_pool_beside_a_fargate_pool(tmp_path: Path) -> None:
    path = _write(tmp_path, EC2)
    result = CliRunner().invoke(app, ["config", "validate", str(path)])
    assert result.exit_code == 0, result.output
    fargate, docker = load_config(path).pools
    assert fargate.compute_type == "ecs" and docker.compute_type == "ec2"
    assert docker.ec2 is not None and docker.ecs is None
    assert docker.ec2.instance_types == ["m7i.large", "m6i.large"]
    assert (docker.ec2.spot, docker.ec2.on_demand_fallback, docker.ec2.root_volume_gb) == (True, True, 100)
    assert docker.ec2.allocation_strategy == "capacity-optimized"
    assert docker.ec2.launch_template_version == "$Latest"


@pytest.mark.parametrize(
    ("second", "expected"), [(EC2 + ECS, "both are set"), ("    max_agents: 3\n", "neither is set")]
)
def test_a_pool_needs_exactly_one_of_ecs_and_ec2_naming_file_and_pool(
    tmp_path: Path, second: str, expected: str
) -> None:
    path = _write(tmp_path, second)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (message,) = caught.value.errors
    assert message == (
        f"{path}: pools[1] (linux-docker) → (the pool itself): set exactly one of `ecs` (Fargate) and `ec2` "
        f"(one instance per job); {expected}"
    )
    result = CliRunner().invoke(app, ["config", "validate", str(path)])
    assert result.exit_code == 2
    assert "linux-docker" in result.output and "exactly one of" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("change", "field", "expected"),
    [
        ("instance_types: [m7i.large, m6i.large]", "ec2.instance_types", "at least 1 item"),
        ("allocation_strategy: capacity-optimized", "ec2.allocation_strategy", "price-capacity-optimized"),
        ("root_volume_gb: 100", "ec2.root_volume_gb", "greater than or equal to 8"),
        ("spot: true", "ec2.spot", "valid boolean"),
    ],
)
def test_bad_ec2_settings_name_the_pool_and_field(tmp_path: Path, change: str, field: str, expected: str) -> None:
    broken = {
        "instance_types: [m7i.large, m6i.large]": "instance_types: []",
        "allocation_strategy: capacity-optimized": "allocation_strategy: cheapest",
        "root_volume_gb: 100": "root_volume_gb: 2",
        "spot: true": "spot: sometimes",
    }[change]
    path = _write(tmp_path, EC2.replace(change, broken))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (message,) = caught.value.errors
    assert message.startswith(f"{path}: pools[1] (linux-docker) → {field}: ") and expected in message
