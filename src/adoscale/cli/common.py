"""What the command modules share: the --config option, logging with secrets redacted, and printing an
expected error without a traceback."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import typer
from rich.console import Console

from adoscale.cli import EXIT_CONFIG
from adoscale.config import Config, ConfigError, load_config
from adoscale.secrets import install_log_redaction

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
    err.print(detail, markup=False, highlight=False, soft_wrap=True)


def load_or_exit(path: Path) -> Config:
    try:
        return load_config(path, env=os.environ)
    except ConfigError as exc:
        fail("invalid configuration", str(exc))
        raise typer.Exit(EXIT_CONFIG) from None
