"""Imports every command module so that each registers its commands on `app`."""

from __future__ import annotations

import importlib

COMMAND_MODULES = (
    "adoscale.cli.reconcile_cmd",
    "adoscale.cli.demo_cmd",
    "adoscale.cli.emulator_cmd",
    "adoscale.cli.sim_cmd",
    "adoscale.cli.environments_cmd",
    "adoscale.cli.package_cmd",
    "adoscale.cli.config_cmd",  # after reconcile_cmd: it owns `adoscale config`
    "adoscale.cli.hooks_cmd",
)


def register() -> None:
    for module in COMMAND_MODULES:
        importlib.import_module(module)
