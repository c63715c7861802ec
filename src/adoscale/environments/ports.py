"""The Environment-VM side's ports, like the pool side's `Compute`: what the lifecycle service and the
sweeper need of AWS, and nothing else. The boto3 adapters are in `adoscale.environments.aws`.

- `Instances`: an instance's tags (read at launch) and the state this region reports for instance ids (the
  sweeper's proof that an instance is gone);
- `LifecycleActions`: complete a lifecycle action, or keep it waiting (heartbeat);
- `Alerts`: tell a human (SNS), or nobody when no topic is configured.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from adoscale.environments.events import LifecycleEvent


class Instances(Protocol):
    @property
    def region(self) -> str:
        """The region these instances are looked up in (for messages)."""
        ...

    def tags(self, instance_id: str) -> dict[str, str]:
        """The instance's tags (none when it has none or is unknown)."""
        ...

    def states(self, instance_ids: Sequence[str]) -> dict[str, str]:
        """Instance id -> state name (`running`, `terminated` ...), for the ids this region knows."""
        ...


class LifecycleActions(Protocol):
    def complete(self, event: LifecycleEvent, result: str) -> bool:
        """Complete the event's lifecycle action with `result` (CONTINUE/ABANDON); False when no action waits
        on its token any more (completed already, or expired). A plain notification has none: True."""
        ...

    def heartbeat(self, event: LifecycleEvent) -> None:
        """Restart the action's heartbeat timeout (the instance keeps waiting)."""
        ...


class Alerts(Protocol):
    def alert(self, subject: str, message: str) -> None: ...


class NoAlerts:
    """No alert topic configured: the log line is all there is."""

    def alert(self, subject: str, message: str) -> None:
        return None
