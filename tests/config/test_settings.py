"""One loader and one PAT resolver, with one precedence, for the CLI and the Lambdas (`_runtime`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from adoscale.config import ConfigError, Settings, SourceError, load_settings, parse_config, resolve_pat
from adoscale.handlers import _runtime
from adoscale.transient import AwsUnavailableError

BODY = {
    "organization_url": "https://dev.azure.com/from-ssm",
    "pools": [{"name": "p", "ecs": {"cluster": "c", "task_definition": "t", "subnets": ["s"]}}],
}


def text(url: str, **extra: Any) -> str:
    return json.dumps({**BODY, "organization_url": url, **extra})


@pytest.fixture
def aws() -> Iterator[Any]:
    with mock_aws():
        _runtime.clear_cache()
        ssm = boto3.client("ssm", region_name="us-east-1")
        ssm.put_parameter(Name="/adoscale/config", Value=text("https://dev.azure.com/ssm"), Type="SecureString")
        sm = boto3.client("secretsmanager", region_name="us-east-1")
        sm.create_secret(Name="deployment/pat", SecretString="deployment-pat-1234")
        sm.create_secret(Name="config/pat", SecretString=json.dumps({"pat": "config-pat-1234"}))
        yield ssm
        _runtime.clear_cache()


@pytest.mark.usefixtures("aws")
def test_settings_precedence_file_then_inline_then_ssm(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text("https://dev.azure.com/file"))
    env = {"ADOSCALE_CONFIG": text("https://dev.azure.com/inline"), "ADOSCALE_CONFIG_PARAMETER": "/adoscale/config"}
    assert load_settings(Settings.from_env(env), path=path).organization_url == "https://dev.azure.com/file"
    assert load_settings(Settings.from_env(env)).organization_url == "https://dev.azure.com/inline"
    assert load_settings(
        Settings.from_env({"ADOSCALE_CONFIG_PARAMETER": "/adoscale/config"})
    ).organization_url.endswith("/ssm")
    with_url = {"ADOSCALE_CONFIG_PARAMETER": "/adoscale/config", "AZP_URL": "https://dev.azure.com/env"}
    assert load_settings(Settings.from_env(with_url)).organization_url == "https://dev.azure.com/env"
    with pytest.raises(ConfigError, match="no configuration"):
        load_settings(Settings())


def test_lambda_settings_read_the_secure_string_once_per_cache_period(
    aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADOSCALE_CONFIG_PARAMETER", "/adoscale/config")
    assert _runtime.settings().organization_url == "https://dev.azure.com/ssm"
    aws.put_parameter(
        Name="/adoscale/config", Value=text("https://dev.azure.com/new"), Type="SecureString", Overwrite=True
    )
    assert _runtime.settings().organization_url == "https://dev.azure.com/ssm"  # cached (5 minutes)
    _runtime.clear_cache()
    assert _runtime.settings().organization_url == "https://dev.azure.com/new"


@pytest.mark.usefixtures("aws")
def test_missing_config_parameter_is_a_settings_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADOSCALE_CONFIG_PARAMETER", "/adoscale/missing")
    with pytest.raises(_runtime.SettingsError, match="'/adoscale/missing': does not exist"):
        _runtime.settings()


@pytest.mark.usefixtures("aws")
def test_pat_precedence_env_then_config_then_deployment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZP_TOKEN_SECRET_ARN", "deployment/pat")
    assert _runtime.pat() == "deployment-pat-1234"  # no configuration: the deployment's secret
    monkeypatch.setenv("ADOSCALE_CONFIG", text("https://dev.azure.com/x", pat_secret="config/pat"))
    assert _runtime.pat() == "config-pat-1234"  # the configuration names its own
    monkeypatch.setenv("AZP_TOKEN", "env-pat-1234")
    assert _runtime.pat() == "env-pat-1234"
    config = parse_config(text("https://x", pat_secret="config/pat"))
    assert resolve_pat(config, Settings.from_env({"AZP_TOKEN_SECRET_ARN": "deployment/pat"})) == "config-pat-1234"


class _Throttled:
    def _fail(self, name: str) -> str:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "GetSecretValue")

    secret = _fail
    parameter = _fail


def test_throttled_pat_source_is_transient_in_the_lambdas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZP_TOKEN_SECRET_ARN", "deployment/pat")
    with pytest.raises(SourceError) as caught:
        resolve_pat(None, Settings.from_env({"AZP_TOKEN_SECRET_ARN": "deployment/pat"}), source=_Throttled())
    assert caught.value.transient and caught.value.exit_code == 1
    monkeypatch.setattr(_runtime, "source", _Throttled())
    with pytest.raises(AwsUnavailableError, match="ThrottlingException"):
        _runtime.pat()


def test_a_wrong_deployment_secret_reference_is_exit_2() -> None:
    with pytest.raises(SourceError) as caught:
        resolve_pat(None, Settings.from_env({"AZP_TOKEN_SECRET_ARN": "not a secret name"}))
    assert caught.value.exit_code == 2 and "AZP_TOKEN_SECRET_ARN" in str(caught.value)
