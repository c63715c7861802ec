"""Imports every command module so that each registers its commands on `app`."""

from __future__ import annotations
