"""`adoscale config validate|push`: check a configuration file, and publish it where the Lambdas read it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from adoscale.aws import error_code, make_client
from adoscale.cli import EXIT_FAILED, app
from adoscale.cli.common import fail, load_or_exit, pat_or_exit
from adoscale.transient import is_transient_aws

# Parameter Store then picks Standard while the value fits in 4 KB and Advanced only when it must. Naming a
# tier ourselves is worse either way: "Standard" fails over 4 KB, and "Advanced" is paid and can never go back
# to Standard. docs.aws.amazon.com/systems-manager/latest/userguide/ps-default-tier.html and
# .../parameter-store-advanced-parameters.html
PARAMETER_TIER = "Intelligent-Tiering"

config_app = typer.Typer(help="Check and publish adoscale configuration files.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@config_app.command("validate")
def config_validate(
    file: Path = typer.Argument(..., help="The configuration file to check.", dir_okay=False),
    check_pat: bool = typer.Option(
        False, "--check-pat", help="Also read the PAT from its source (never printed): exit 3 if unreadable."
    ),
) -> None:
    """Validate a configuration file; every problem is reported at once. Exit 2 when invalid."""
    cfg = load_or_exit(file)
    if check_pat:
        pat_or_exit(cfg)
    pools = ", ".join(p.name for p in cfg.pools)
    typer.echo(f"{file}: valid ({len(cfg.pools)} pool(s): {pools})" + ("; PAT readable" if check_pat else ""))


@config_app.command("push")
def config_push(
    file: Path = typer.Argument(..., help="The configuration file to validate and upload.", dir_okay=False),
    parameter: str = typer.Option(
        ..., "--parameter", help="The SSM parameter the Lambdas read (ADOSCALE_CONFIG_PARAMETER)."
    ),
    kms_key_id: str | None = typer.Option(
        None,
        "--kms-key-id",
        help="KMS key (id, ARN or alias) for the SecureString: Terraform's `kms_key_arn` output. "
        "Default: the key the parameter already has, else the account's aws/ssm key.",
    ),
) -> None:
    """Validate a configuration file and write it, as a SecureString, over the SSM parameter that Terraform
    created (output `config_parameter_name`), keeping its KMS key unless --kms-key-id names another. A file
    that fails validation is never uploaded (exit 2)."""
    cfg = load_or_exit(file)
    body = cfg.model_dump_json()
    request: dict[str, Any] = {
        "Name": parameter,
        "Value": body,
        "Type": "SecureString",
        "Overwrite": True,
        "Tier": PARAMETER_TIER,
    }
    try:
        ssm = make_client("ssm")
        key = kms_key_id or _current_key(ssm, parameter)
        if key:
            request["KeyId"] = key
        answer = ssm.put_parameter(**request)
    except Exception as exc:
        code = error_code(exc)
        hint = "try again" if is_transient_aws(exc) else "check the parameter name, the key and your permissions"
        fail("upload failed", f"{parameter}: {code or type(exc).__name__}; {hint}")
        raise typer.Exit(EXIT_FAILED) from None
    typer.echo(
        # PutParameter answers with the tier Parameter Store chose.
        f"{file}: valid; uploaded to {parameter} (version {answer['Version']}, {answer.get('Tier', PARAMETER_TIER)} "
        f"tier, SecureString with "
        f"{request.get('KeyId', 'the aws/ssm key')}, {len(cfg.pools)} pool(s))"
    )


def _current_key(ssm: Any, parameter: str) -> str | None:
    """The KMS key of an existing SecureString (Terraform's), so that a push never changes it silently."""
    found = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [parameter]}])["Parameters"]
    key = found[0].get("KeyId") if found else None
    return str(key) if key else None
