"""Imports every command module so that each registers its commands on `app`."""

from __future__ import annotations

from adoscale.cli import demo_cmd, reconcile_cmd

__all__ = ["demo_cmd", "reconcile_cmd"]
