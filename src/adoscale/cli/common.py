"""What the command modules share: the --config option, logging with secrets redacted, loading the
configuration and the PAT, and printing an expected error without a traceback."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console

from adoscale.ado.errors import AdoAuthError, AdoError
from adoscale.cli import EXIT_AUTH, EXIT_CONFIG, EXIT_FAILED
from adoscale.config import Config, ConfigError, Settings, load_settings, resolve_pat
from adoscale.secrets import install_log_redaction, redact

err = Console(stderr=True)

ConfigOption = typer.Option(
    ..., "--config", "-c", help="The YAML (or JSON) configuration file.", exists=False, dir_okay=False
)


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    install_log_redaction()


def fail(title: str, detail: str) -> None:
    # Details are printed without markup: config paths like pools[1] must not be read as rich tags.
    err.print(f"[bold red]{title}[/bold red]")
    err.print(redact(detail), markup=False, highlight=False, soft_wrap=True)


def load_or_exit(path: Path) -> Config:
    """The configuration in `path` (`load_settings`' first source); exit 2 with every problem located."""
    try:
        return load_settings(Settings.from_env(), path=path)
    except ConfigError as exc:
        fail("invalid configuration", str(exc))
        raise typer.Exit(exc.exit_code or EXIT_CONFIG) from None


def pat_or_exit(config: Config) -> str:
    """The PAT (`resolve_pat`'s precedence); exit 3 with one line naming a source that cannot be read, 2 for a
    wrong reference or none at all, 1 when AWS is unavailable."""
    try:
        return resolve_pat(config, Settings.from_env())
    except ConfigError as exc:
        fail("no Azure DevOps PAT", str(exc))
        raise typer.Exit(exc.exit_code) from None


@contextmanager
def ado_errors_exit() -> Iterator[None]:
    """Azure DevOps failures as one line and an exit code: 3 for a refused PAT, 1 for anything else."""
    try:
        yield
    except AdoAuthError as exc:
        fail("Azure DevOps authentication failed", str(exc))
        raise typer.Exit(EXIT_AUTH) from None
    except AdoError as exc:
        fail("Azure DevOps call failed", str(exc))
        raise typer.Exit(EXIT_FAILED) from None
