"""An Azure DevOps emulator: a plain-Python model of pools, agents, job requests and Environments, under a
thin WSGI layer with the real service's wire behaviour and seeded fault injection.

This module only re-exports; no module of the package imports it back (they import each other directly).
"""

from adoscale_lab.emulator.app import EmulatorApp, make_app
from adoscale_lab.emulator.entities import Agent, Environment, Job, Pool, VmResource
from adoscale_lab.emulator.errors import EmulatorError
from adoscale_lab.emulator.faults import FaultRule, Faults
from adoscale_lab.emulator.model import AdoModel
from adoscale_lab.emulator.server import RunningServer, serve

__all__ = [
    "AdoModel",
    "Agent",
    "EmulatorApp",
    "EmulatorError",
    "Environment",
    "FaultRule",
    "Faults",
    "Job",
    "Pool",
    "RunningServer",
    "VmResource",
    "make_app",
    "serve",
]
