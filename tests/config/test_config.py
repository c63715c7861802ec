"""Configuration: good files load; every broken file is refused with the file, pool and field named."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from adoscale.cli import app
from adoscale.cli.commands import register
from adoscale.config import (
    ConfigError,
    SecretSource,
    Settings,
    load_config,
    parse_config,
    render_config_reference,
    resolve_pat,
)
from tests.conftest import REPO

GOOD = """\
organization_url: https://dev.azure.com/contoso
pools:
  - name: linux-fargate
    max_agents: 20
    capabilities: [docker, java]
    ecs:
      cluster: ado-agents
      task_definition: ado-agent
      subnets: [subnet-0abc]
      security_groups: [sg-0abc]
      capacity_provider_strategy:
        - {capacity_provider: FARGATE_SPOT, weight: 1}
"""

BROKEN = {
    "missing-field": (GOOD.replace("      task_definition: ado-agent\n", ""), "ecs.task_definition", "required"),
    "wrong-type": (GOOD.replace("max_agents: 20", "max_agents: lots"), "max_agents", "valid integer"),
    "unknown-key": (
        GOOD.replace("    max_agents: 20\n", "    max_agents: 20\n    max_agent: 3\n"),
        "max_agent",
        "unknown key",
    ),
    "max-below-min": (GOOD.replace("max_agents: 20", "max_agents: 2\n    min_agents: 5"), "max_agents", "min_agents"),
    "bad-provider": (GOOD.replace("FARGATE_SPOT", "EC2"), "capacity_provider", "FARGATE"),
}


@pytest.fixture(autouse=True)
def _commands() -> None:
    register()


def test_good_file(tmp_path: Path) -> None:
    path = tmp_path / "adoscale.yaml"
    path.write_text(GOOD)
    config = load_config(path)
    pool = config.pools[0]
    assert pool.capabilities == {"docker": "", "java": ""}
    assert pool.ecs.capacity_provider_strategy[0].capacity_provider == "FARGATE_SPOT"
    assert pool.min_agents == 0 and pool.idle_timeout_seconds == 300
    assert config.organization_url == "https://dev.azure.com/contoso"


def test_json_is_accepted_and_azp_url_overrides() -> None:
    import yaml

    as_json = json.dumps(yaml.safe_load(GOOD))
    config = parse_config(as_json, "x.json", organization_url="https://dev.azure.com/other")
    assert config.organization_url == "https://dev.azure.com/other"


def test_json_escapes_outside_the_basic_plane_read_as_json_reads_them() -> None:
    """`json.dumps` (ensure_ascii, its default) writes U+1F600 as the surrogate pair \\ud83d\\ude00; JSON readers
    join the pair into one character (RFC 8259, section 7), and so must the loader (YAML alone reads two lone
    surrogates, which fail later wherever the value is encoded)."""
    import yaml

    raw = yaml.safe_load(GOOD)
    raw["pools"][0]["capabilities"] = {"team": "agents \U0001f600"}
    as_json = json.dumps(raw)
    assert "\\ud83d\\ude00" in as_json
    config = parse_config(as_json, "x.json")
    assert config.pools[0].capabilities == {"team": "agents \U0001f600"}
    config.pools[0].capabilities["team"].encode("utf-8")  # a real character, not two halves


def test_a_lone_surrogate_escape_is_refused_naming_the_line() -> None:
    text = GOOD.replace("name: linux-fargate", 'name: "linux\\ud83d-fargate"')
    with pytest.raises(ConfigError, match=r"<config>: line 3: a \\u escape that is half of a character"):
        parse_config(text)


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_files_exit_2_naming_file_pool_and_field(tmp_path: Path, case: str) -> None:
    text, field, expected = BROKEN[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert str(path) in message and "linux-fargate" in message and field in message and expected in message
    result = CliRunner().invoke(app, ["config", "validate", str(path)])
    assert result.exit_code == 2
    assert field in result.output and str(path.name) in result.output
    assert "Traceback" not in result.output


def test_unparseable_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("organization_url: https://x\npools: [\n  - name: a\n")
    result = CliRunner().invoke(app, ["config", "validate", str(path)])
    assert result.exit_code == 2
    assert "not valid YAML at line" in result.output and "broken.yaml" in result.output


def test_all_errors_reported_at_once() -> None:
    text = GOOD.replace("max_agents: 20", "max_agents: lots\n    colour: blue").replace(
        "subnets: [subnet-0abc]", "subnets: []"
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "c.yaml")
    assert len(caught.value.errors) == 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "empty"),
        ("- a\n- b\n", "mapping at the top level"),
        (GOOD + GOOD.split("pools:\n")[1], "unique"),
        (GOOD.replace("https://dev.azure.com/contoso", "dev.azure.com/contoso"), "organization_url"),
    ],
)
def test_other_invalid_files(text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        parse_config(text, "c.yaml")


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["config", "validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2 and "cannot read" in result.output


def test_pat_from_env_secrets_manager_and_ssm() -> None:
    config = parse_config(GOOD + "pat_secret: ado/pat\n", "c.yaml")
    assert resolve_pat(config, Settings.from_env({"AZP_TOKEN": "from-env-1234"})) == "from-env-1234"
    with mock_aws():
        sm = boto3.client("secretsmanager", region_name="us-east-1")
        sm.create_secret(Name="ado/pat", SecretString="from-secret-1234")
        assert resolve_pat(config, Settings(), source=SecretSource(secrets_client=sm)) == "from-secret-1234"
        sm.put_secret_value(SecretId="ado/pat", SecretString=json.dumps({"pat": "from-json-1234"}))
        assert resolve_pat(config, Settings(), source=SecretSource(secrets_client=sm)) == "from-json-1234"
        ssm = boto3.client("ssm", region_name="us-east-1")
        ssm.put_parameter(Name="/ado/pat", Value="from-ssm-1234", Type="SecureString")
        by_param = parse_config(GOOD + "pat_parameter: /ado/pat\n", "c.yaml")
        assert resolve_pat(by_param, Settings(), source=SecretSource(ssm_client=ssm)) == "from-ssm-1234"
    with pytest.raises(ConfigError, match="no PAT"):
        resolve_pat(parse_config(GOOD, "c.yaml"), Settings())


def test_configuration_reference_in_docs_is_current() -> None:
    doc = (REPO / "docs" / "configuration.md").read_text()
    assert render_config_reference() in doc, "regenerate with: python -m adoscale.config > the table in docs"


def test_config_push_uploads_only_a_valid_file(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("max_agents: 20", "max_agents: -1"))
    with mock_aws():
        ssm = boto3.client("ssm", region_name="us-east-1")
        refused = CliRunner().invoke(app, ["config", "push", str(bad), "--parameter", "/adoscale/config"])
        assert refused.exit_code == 2
        assert not ssm.describe_parameters()["Parameters"]
        key = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]
        # Terraform creates the parameter; push overwrites it, as a SecureString under the given key.
        ssm.put_parameter(Name="/adoscale/config", Value="{}", Type="SecureString", KeyId=key)
        pushed = CliRunner().invoke(
            app, ["config", "push", str(good), "--parameter", "/adoscale/config", "--kms-key-id", key]
        )
        assert pushed.exit_code == 0, pushed.output
        [described] = ssm.describe_parameters()["Parameters"]
        assert described["Type"] == "SecureString" and described["KeyId"] == key and described["Version"] == 2
        stored = ssm.get_parameter(Name="/adoscale/config", WithDecryption=True)["Parameter"]["Value"]
        assert parse_config(stored, "ssm").pools[0].name == "linux-fargate"
        # Without --kms-key-id the parameter keeps the key it has: a push never changes it silently.
        again = CliRunner().invoke(app, ["config", "push", str(good), "--parameter", "/adoscale/config"])
        assert again.exit_code == 0, again.output
        assert ssm.describe_parameters()["Parameters"][0]["KeyId"] == key


def _pools(count: int) -> str:
    """GOOD with `count` pools: its validated JSON grows by several hundred bytes a pool."""
    pool = GOOD.split("pools:\n", 1)[1]
    return (
        GOOD.split("pools:\n", 1)[0]
        + "pools:\n"
        + "".join(pool.replace("linux-fargate", f"pool-{n}") for n in range(count))
    )


@pytest.mark.parametrize("pools", [1, 12], ids=["under-4-KB", "over-4-KB"])
def test_config_push_asks_for_the_intelligent_tiering_tier_whatever_the_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pools: int
) -> None:
    """Over 4 KB a parameter must be Advanced, and an Advanced parameter can never go back to Standard;
    `Intelligent-Tiering` lets Parameter Store choose Standard whenever the value fits (SSM PutParameter,
    `Tier`: docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html; user guide,
    "Specifying a default parameter tier", .../userguide/ps-default-tier.html). moto does not choose: it
    stores and returns the tier as requested (and takes more than 4 KB in Standard), so the test asserts on
    the request as sent and on what moto recorded, not on a tier AWS would have picked."""
    import adoscale.cli.config_cmd as config_cmd

    sent: list[dict[str, object]] = []
    make_client = config_cmd.make_client

    def recording_client(service: str, **kwargs: object) -> object:
        client = make_client(service, **kwargs)  # type: ignore[arg-type]
        client.meta.events.register("provide-client-params.ssm.PutParameter", lambda params, **_: sent.append(params))
        return client

    path = tmp_path / "adoscale.yaml"
    path.write_text(_pools(pools))
    size = len(parse_config(path.read_text(), "c.yaml").model_dump_json().encode())
    assert (size > 4096) == (pools > 1), size  # each case really is on its side of the limit
    with mock_aws():
        monkeypatch.setattr(config_cmd, "make_client", recording_client)
        # Terraform created the parameter (Standard, a placeholder value).
        boto3.client("ssm", region_name="us-east-1").put_parameter(
            Name="/adoscale/config", Value="{}", Type="SecureString", Tier="Standard"
        )
        pushed = CliRunner().invoke(app, ["config", "push", str(path), "--parameter", "/adoscale/config"])
        assert pushed.exit_code == 0, pushed.output
        [described] = boto3.client("ssm", region_name="us-east-1").describe_parameters()["Parameters"]
    assert [request["Tier"] for request in sent] == ["Intelligent-Tiering"]
    assert described["Tier"] == "Intelligent-Tiering" and described["Version"] == 2
    assert "Intelligent-Tiering tier" in pushed.output  # the tier PutParameter answered with


def test_a_warm_pool_s_idle_share_reaches_the_forecast_and_a_bad_one_is_named() -> None:
    from adoscale.control.decide import warm_policy_for

    warm = "    warm_pool: {mode: predictive, idle_share: 0.5, startup_seconds: 45}\n"
    pool = parse_config(GOOD + warm, "c.yaml").pools[0]
    policy = warm_policy_for(pool)
    assert (policy.idle_share, policy.startup_s) == (0.5, 45.0)
    assert warm_policy_for(parse_config(GOOD, "c.yaml").pools[0]).idle_share is None  # off unless asked for
    with pytest.raises(ConfigError, match=r"c\.yaml.*linux-fargate.*idle_share"):
        parse_config(GOOD + warm.replace("0.5", "-1"), "c.yaml")
