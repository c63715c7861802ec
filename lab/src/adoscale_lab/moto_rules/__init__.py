"""The one place for moto's behaviour patches: each makes moto follow a rule the real service documents and
moto does not model, and names its source. Tests install them through pytest's monkeypatch (tests/conftest.py),
the demo and the Terraform tests' moto server (scripts/moto_server.py) through `Patches`.

- `dynamodb.atomic_writes`: conditional writes are atomic.
- `ecs.EcsRules`: ECS's request rules (startedBy, tags, ListTasks filters and default status, overrides size).
- `ecs.run_task_client_token`: RunTask's clientToken idempotency.
- `ecs.hold_tasks_running`: tasks stay RUNNING until stopped.
- `ecs.created_at`: tasks carry `createdAt` (opt-in: the agent start-up metric's test).
- `ec2.Ec2Fleets`: CreateFleet's ClientToken idempotency and instant-fleet capacity errors.
- `autoscaling.lifecycle_actions`, `autoscaling.notification_configurations`: calls moto lacks.
- `provider`: what the Terraform AWS provider needs of moto (scripts/moto_server.py).
"""

from adoscale_lab.moto_rules.patches import Patcher, Patches

__all__ = ["Patcher", "Patches"]
