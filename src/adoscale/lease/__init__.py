"""Single flight per pool: a pass acts on a pool only while it holds that pool's lease.

The port (`Lease`) and its adapters: DynamoDB for every real runtime (CLI and Lambda), memory for the
simulator and tests, and `Unleased` for a lone controller with no table configured; `while_held`, the one
way a pass takes and gives back its lease (whatever interrupts it).
"""

from adoscale.lease.base import LeaseHeld, Unleased
from adoscale.lease.dynamodb import DynamoLease
from adoscale.lease.guard import while_held
from adoscale.lease.memory import MemoryLease
from adoscale.ports import Lease

__all__ = ["DynamoLease", "Lease", "LeaseHeld", "MemoryLease", "Unleased", "while_held"]
