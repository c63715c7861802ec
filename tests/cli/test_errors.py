"""CLI defects found by trying (issue 24): each bad input or missing resource gets one clear line and the
documented exit code (0 done, 1 failed, 2 invalid configuration or usage, 3 ADO refused the PAT), never a
traceback; every command that reports can report as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from adoscale.config import parse_config
from tests.aws import create_lease_table
from tests.cli.conftest import CliWorld, invoke
from tests.conftest import PAT

GOOD = """
organization_url: https://dev.azure.com/acme
pools:
  - name: linux
    ecs: {cluster: c, task_definition: t, subnets: [subnet-1]}
"""


def _one_clear_line(output: str, *needles: str) -> None:
    assert "Traceback" not in output and "botocore" not in output, output
    flat = " ".join(output.replace("│", " ").split())
    for needle in needles:
        assert needle in flat, output


# -- reconcile / serve: a lease table that does not exist ---------------------------------------------------


@pytest.mark.parametrize("dry_run", [False, True], ids=["real", "dry-run"])
def test_a_lease_table_that_does_not_exist_is_one_line_and_exit_2(cli_world: CliWorld, dry_run: bool) -> None:
    cli_world.model.queue_job(cli_world.model.pool_by_name("linux").id)
    path = cli_world.write(lease_table="adoscale-nope")
    result = invoke("reconcile", "-c", str(path), *(["--dry-run"] if dry_run else []))
    assert result.exit_code == 2, result.output
    _one_clear_line(result.output, "lease_table 'adoscale-nope': does not exist")
    assert cli_world.ecs.list_tasks(cluster=cli_world.body["pools"][0]["ecs"]["cluster"])["taskArns"] == []


def test_an_existing_lease_table_is_used(cli_world: CliWorld) -> None:
    cli_world.model.queue_job(cli_world.model.pool_by_name("linux").id)
    create_lease_table(boto3.client("dynamodb", region_name="us-east-1"), "adoscale-leases")
    result = invoke("reconcile", "-c", str(cli_world.write(lease_table="adoscale-leases")), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["pools"][0]["launched"] == 1


# -- cost --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--interval", "0"], "--interval"),
        (["--prices", "nope.json"], "nope.json: cannot be read"),
        (["--prices", "{empty}"], "missing prices: fargate.vcpu_hour"),
        (["--prices", "{html}"], "not JSON"),
        (["--jobs-per-day", "-5"], "--jobs-per-day"),
    ],
    ids=["interval-0", "prices-missing-file", "prices-empty-object", "prices-not-json", "negative-jobs"],
)
def test_cost_refuses_bad_arguments_in_one_line(tmp_path: Path, args: list[str], needle: str) -> None:
    (tmp_path / "empty.json").write_text("{}")
    (tmp_path / "page.json").write_text("<html>500</html>")
    args = [
        a.replace("{empty}", str(tmp_path / "empty.json")).replace("{html}", str(tmp_path / "page.json")) for a in args
    ]
    from adoscale.cli.commands import register

    register()
    result = invoke("cost", *args, columns=200)
    assert result.exit_code == 2, result.output
    _one_clear_line(result.output, needle)


def test_cost_defaults_to_what_terraform_deploys_in_words_a_user_knows() -> None:
    from adoscale.cli.commands import register

    register()
    default = json.loads(invoke("cost", "--json").stdout)
    deployed = json.loads(invoke("cost", "--deployed", "--json").stdout)
    assert default["usage"] == deployed["usage"] and default["schedule"] == "deployed"
    assert default["usage"]["network_mode"] == "nat"  # deploy/terraform/examples/complete: network_mode = "nat"
    assert any(line["service"] == "VPC: NAT gateway" for line in default["lines"])
    simple = json.loads(invoke("cost", "--interval", "120", "--json").stdout)
    assert simple["usage"]["workflow_interval_s"] == 120 and simple["schedule"] == "every 120 s"
    assert "seed" not in invoke("cost", "--help", columns=200).output.lower()


# -- config ------------------------------------------------------------------------------------------------


def test_config_validate_takes_c_like_every_other_command_and_json(tmp_path: Path) -> None:
    path = tmp_path / "adoscale.yaml"
    path.write_text(GOOD)
    assert invoke("config", "validate", "-c", str(path)).exit_code == 0
    assert invoke("config", "validate", str(path)).exit_code == 0
    body = json.loads(invoke("config", "validate", "--config", str(path), "--json").stdout)
    assert body == {"file": str(path), "valid": True, "pools": ["linux"], "environments": []}
    both = invoke("config", "validate", str(path), "-c", str(path))
    assert both.exit_code == 2
    _one_clear_line(both.output, "as the argument or with -c/--config")


def test_a_configuration_with_nothing_to_scale_is_invalid(tmp_path: Path) -> None:
    path = tmp_path / "adoscale.yaml"
    path.write_text("organization_url: https://dev.azure.com/acme\npools: []\n")
    result = invoke("config", "validate", str(path))
    assert result.exit_code == 2, result.output
    _one_clear_line(result.output, "nothing to scale: no `pools` and no `environments`")


def test_config_validate_check_pat_says_a_secret_without_a_value_has_no_value(tmp_path: Path) -> None:
    """Terraform's `aws_secretsmanager_secret` alone creates a secret with no version: GetSecretValue then
    answers ResourceNotFoundException "Secrets Manager can't find the specified secret value for staging
    label: AWSCURRENT" (as moto does), which is not "does not exist"."""
    path = tmp_path / "adoscale.yaml"
    path.write_text(GOOD + "pat_secret: ado/pat\n")
    with mock_aws():
        boto3.client("secretsmanager", region_name="us-east-1").create_secret(Name="ado/pat")
        result = invoke("config", "validate", str(path), "--check-pat", columns=200)
    assert result.exit_code == 3, result.output
    _one_clear_line(result.output, "pat_secret 'ado/pat': exists but has no value yet")
    assert "does not exist" not in result.output


def test_config_push_refuses_a_parameter_no_lambda_reads_unless_create(tmp_path: Path) -> None:
    path = tmp_path / "adoscale.yaml"
    path.write_text(GOOD)
    with mock_aws():
        ssm = boto3.client("ssm", region_name="us-east-1")
        refused = invoke("config", "push", str(path), "--parameter", "/nope/config", columns=200)
        assert refused.exit_code == 2, refused.output
        _one_clear_line(refused.output, "/nope/config: does not exist", "--create")
        assert ssm.describe_parameters()["Parameters"] == []
        created = invoke("config", "push", "-c", str(path), "--parameter", "/nope/config", "--create", "--json")
        assert created.exit_code == 0, created.output
        body = json.loads(created.stdout)
        assert body["created"] is True and body["version"] == 1 and body["pools"] == ["linux"]
        again = json.loads(invoke("config", "push", str(path), "--parameter", "/nope/config", "--json").stdout)
        assert again["created"] is False and again["version"] == 2
        stored = ssm.get_parameter(Name="/nope/config", WithDecryption=True)["Parameter"]["Value"]
        assert parse_config(stored, "ssm").pools[0].name == "linux"


# -- hooks -------------------------------------------------------------------------------------------------


def test_hooks_remove_of_an_unknown_pool_exits_2_like_install(
    cli_world: CliWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADOSCALE_HOOK_SECRET", "s3cret-for-the-hooks-0123")
    path = str(cli_world.path)
    install = invoke("hooks", "install", "-c", path, "--url", "http://127.0.0.1:9/hooks", "--pool", "nosuch")
    remove = invoke("hooks", "remove", "-c", path, "--pool", "nosuch")
    assert install.exit_code == remove.exit_code == 2, remove.output
    _one_clear_line(remove.output, "no pool named nosuch")


def test_hooks_install_and_remove_report_as_json(cli_world: CliWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADOSCALE_HOOK_SECRET", "s3cret-for-the-hooks-0123")
    path = str(cli_world.path)
    url = "http://127.0.0.1:9/hooks"
    first = invoke("hooks", "install", "-c", path, "--url", url, "--json")
    assert first.exit_code == 0, first.output
    [created] = json.loads(first.stdout)["subscriptions"]
    assert created["pool"] == "linux" and created["action"] == "subscribed" and created["url"] == f"{url}?pool=linux"
    second = json.loads(invoke("hooks", "install", "-c", path, "--url", url, "--json").stdout)["subscriptions"]
    assert second == [created | {"action": "already subscribed"}]
    removed = json.loads(invoke("hooks", "remove", "-c", path, "--json").stdout)["removed"]
    assert removed == [{"pool": "linux", "id": created["id"], "url": created["url"]}]
    assert PAT not in first.output


def test_package_reports_as_json(tmp_path: Path) -> None:
    from adoscale.cli.commands import register

    register()
    out = tmp_path / "fn.zip"
    result = invoke("package", "--source-only", "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["path"] == str(out) and body["bytes"] == out.stat().st_size and len(body["sha256"]) == 64
