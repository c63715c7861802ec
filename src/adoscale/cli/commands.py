"""Imports every command module so that each registers its commands on `app`.

The product's commands are listed here; the rig's (`demo`, `emulator`, `simulate`, `cost`, `package`) come from
the `adoscale.commands` entry points of the `adoscale-lab` distribution when it is installed, so the product
never imports the rig."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

COMMAND_MODULES = (
    "adoscale.cli.reconcile_cmd",
    "adoscale.cli.environments_cmd",
    "adoscale.cli.config_cmd",  # after reconcile_cmd: it owns `adoscale config`
    "adoscale.cli.hooks_cmd",
    "adoscale.cli.status_cmd",
)
ENTRY_POINTS = "adoscale.commands"


def register() -> None:
    for module in COMMAND_MODULES:
        importlib.import_module(module)
    for entry in sorted(entry_points(group=ENTRY_POINTS), key=lambda e: e.name):
        entry.load()
