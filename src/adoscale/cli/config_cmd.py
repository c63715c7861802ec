"""`adoscale config validate|push`: check a configuration file, and publish it where the Lambdas read it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer

from adoscale.aws import error_code, make_client
from adoscale.cli import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, app
from adoscale.cli.common import JsonOption, fail, load_or_exit, pat_or_exit
from adoscale.transient import is_transient_aws

# Parameter Store then picks Standard while the value fits in 4 KB and Advanced only when it must. Naming a
# tier ourselves is worse either way: "Standard" fails over 4 KB, and "Advanced" is paid and can never go back
# to Standard. docs.aws.amazon.com/systems-manager/latest/userguide/ps-default-tier.html and
# .../parameter-store-advanced-parameters.html
PARAMETER_TIER = "Intelligent-Tiering"

T = TypeVar("T")

config_app = typer.Typer(help="Check and publish adoscale configuration files.", no_args_is_help=True)
app.add_typer(config_app, name="config")


def _file_or_exit(file: Path | None, config: Path | None) -> Path:
    """The file given as the argument or as -c/--config (like every other command), exactly one."""
    if (file is None) == (config is None):
        fail("which file?", "give the configuration file once: as the argument or with -c/--config")
        raise typer.Exit(EXIT_CONFIG)
    return file or config  # type: ignore[return-value]


FileArgument = typer.Argument(None, help="The configuration file (or -c/--config).", dir_okay=False, show_default=False)
FileOption = typer.Option(None, "--config", "-c", help="The configuration file.", dir_okay=False)


@config_app.command("validate", short_help="Check a configuration file; report every problem at once.")
def config_validate(
    file: Path | None = FileArgument,
    config: Path | None = FileOption,
    check_pat: bool = typer.Option(
        False, "--check-pat", help="Also read the PAT from its source (never printed): exit 3 if unreadable."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Validate a configuration file; every problem is reported at once. Exit 2 when invalid, including a
    configuration with neither pools nor Environments (nothing to scale)."""
    path = _file_or_exit(file, config)
    cfg = load_or_exit(path)
    if not cfg.pools and not cfg.environments:
        fail("invalid configuration", f"{path}: nothing to scale: no `pools` and no `environments`")
        raise typer.Exit(EXIT_CONFIG)
    if check_pat:
        pat_or_exit(cfg)
    pools = [p.name for p in cfg.pools]
    environments = [f"{e.project}/{e.name}" for e in cfg.environments]
    if as_json:
        body = {"file": str(path), "valid": True, "pools": pools, "environments": environments}
        typer.echo(json.dumps(body | ({"pat_readable": True} if check_pat else {}), indent=2))
        raise typer.Exit(EXIT_OK)
    parts = [f"{len(pools)} pool(s)" + (f": {', '.join(pools)}" if pools else "")]
    if environments:
        parts.append(f"{len(environments)} Environment(s): {', '.join(environments)}")
    typer.echo(f"{path}: valid ({'; '.join(parts)})" + ("; PAT readable" if check_pat else ""))


@config_app.command("push", short_help="Validate a configuration file and write it to SSM.")
def config_push(
    file: Path | None = FileArgument,
    config: Path | None = FileOption,
    parameter: str = typer.Option(
        ..., "--parameter", help="The SSM parameter the Lambdas read (Terraform output config_parameter_name)."
    ),
    kms_key_id: str | None = typer.Option(
        None,
        "--kms-key-id",
        help="KMS key (id, ARN or alias) for the SecureString: Terraform's `kms_key_arn` output. "
        "Default: the key the parameter already has, else the account's aws/ssm key.",
    ),
    create: bool = typer.Option(
        False,
        "--create",
        help="Create the parameter if it does not exist (no deployed Lambda reads it until told to: "
        "ADOSCALE_CONFIG_PARAMETER).",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Validate a configuration file and write it, as a SecureString, over the SSM parameter that Terraform
    created (output `config_parameter_name`), keeping its KMS key unless --kms-key-id names another. A file
    that fails validation is never uploaded (exit 2). A parameter that does not exist is refused (exit 2):
    Terraform creates the one the Lambdas read, so a missing one is almost always a typo; --create overrides."""
    path = _file_or_exit(file, config)
    cfg = load_or_exit(path)
    body = cfg.model_dump_json()
    request: dict[str, Any] = {
        "Name": parameter,
        "Value": body,
        "Type": "SecureString",
        "Overwrite": True,
        "Tier": PARAMETER_TIER,
    }
    ssm = make_client("ssm")
    existing = _aws_or_exit(parameter, lambda: _existing(ssm, parameter))
    if existing is None and not create:
        fail(
            "no such parameter",
            f"{parameter}: does not exist, so no deployed Lambda reads it (Terraform output "
            "config_parameter_name names the one they read); --create to create it anyway",
        )
        raise typer.Exit(EXIT_CONFIG)
    key = kms_key_id or (existing or {}).get("KeyId")
    if key:
        request["KeyId"] = str(key)
    answer = _aws_or_exit(parameter, lambda: ssm.put_parameter(**request))
    # PutParameter answers with the tier Parameter Store chose.
    tier = answer.get("Tier", PARAMETER_TIER)
    key_name = request.get("KeyId", "the aws/ssm key")
    if as_json:
        result = {
            "file": str(path),
            "parameter": parameter,
            "version": answer["Version"],
            "tier": tier,
            "key": request.get("KeyId"),
            "created": existing is None,
            "pools": [p.name for p in cfg.pools],
        }
        typer.echo(json.dumps(result, indent=2))
        raise typer.Exit(EXIT_OK)
    typer.echo(
        f"{path}: valid; {'created' if existing is None else 'uploaded to'} {parameter} (version "
        f"{answer['Version']}, {tier} tier, SecureString with {key_name}, {len(cfg.pools)} pool(s))"
    )


def _existing(ssm: Any, parameter: str) -> dict[str, Any] | None:
    """The parameter's description (its KMS key: Terraform's, so that a push never changes it silently), or
    None when it does not exist."""
    found = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [parameter]}])["Parameters"]
    return dict(found[0]) if found else None


def _aws_or_exit(parameter: str, call: Callable[[], T]) -> T:
    try:
        return call()
    except Exception as exc:
        code = error_code(exc)
        hint = "try again" if is_transient_aws(exc) else "check the parameter name, the key and your permissions"
        fail("upload failed", f"{parameter}: {code or type(exc).__name__}; {hint}")
        raise typer.Exit(EXIT_FAILED) from None
