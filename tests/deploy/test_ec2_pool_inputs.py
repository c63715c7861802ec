"""The ec2-pool module refuses the values its Linux boot script cannot hold: boot.sh assigns them in
double-quoted bash strings (`POOL="${pool}"`, rendered by templatefile()), where a double quote ends the
string and a dollar sign or backquote runs a command at boot. boot.ps1 doubles its quotes instead
(tests/agent/test_ec2_boot_windows.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.deploy.deploying import init_offline
from tests.deploy.terraform import TERRAFORM_DIR, run

REQUIRED = {
    "name": "adoscale-docker",
    "pool_name": "linux-docker",
    "azp_url": "https://dev.azure.com/acme",
    "pat_secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:adoscale-pat",
    "kms_key_arn": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "image_id": "ami-0abcdef1234567890",
    "vpc_id": "vpc-0123456789abcdef0",
}


@pytest.fixture(scope="module")
def module(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("ec2-pool") / "ec2-pool"
    shutil.copytree(TERRAFORM_DIR / "modules" / "ec2-pool", root, ignore=shutil.ignore_patterns(".terraform*"))
    env = init_offline(root)
    return root, env


def _plan(module: tuple[Path, dict[str, str]], **values: str) -> str:
    root, env = module
    variables = [a for k, v in {**REQUIRED, **values}.items() for a in ("-var", f"{k}={v}")]
    done = run(["plan", "-input=false", "-no-color", "-refresh=false", *variables], root, env, timeout=120)
    assert done.returncode != 0  # valid values too end at the closed port: only the messages differ
    return done.stdout + done.stderr


# Every refused character in one field or another, in two plans (Terraform reports each invalid variable of
# a plan); the second also gives a pool name with an apostrophe and brackets, which the check must let by.
REFUSED = {
    "pool_name": 'docker"; reboot; "',
    "azp_url": "https://dev.azure.com/$(id)",
    "agent_name_prefix": "ec2-`id`-",
}
MIXED = {
    "pool_name": "Bob's pool (linux, docker)",
    "azp_url": "https://dev.azure.com/acme\nid",
    "agent_name_prefix": "ec2\\",
}


@pytest.mark.parametrize("values", [REFUSED, MIXED], ids=["quote-dollar-backquote", "newline-backslash"])
def test_a_value_the_boot_script_cannot_quote_is_refused_naming_the_field(
    module: tuple[Path, dict[str, str]], values: dict[str, str]
) -> None:
    out = _plan(module, **values)
    refused = {field for field in values if f"{field} must not hold a double quote" in out}
    assert refused == {field for field, value in values.items() if any(c in value for c in '"$`\\\n')}, out[-2000:]
