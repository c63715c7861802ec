"""Launch and termination of Environment VMs: record identities at launch, deregister before terminating.

The instance's tags may be gone by the time its termination is announced (the seed's race), so
everything termination needs is recorded at launch, keyed by instance id, and termination reads only the
state table. With a terminate lifecycle hook, the instance waits until its VM resource and agent are
removed: the action is completed with CONTINUE only after deregistration, or, loudly (an alert), when the
trigger is about to stop retrying or the hook is about to time out.

The trigger's retries are the budget: SNS and EventBridge both invoke the function asynchronously, and a
function error is retried by Lambda itself (the first attempt and `maximum_retry_attempts`, set to 2 in
Terraform: `TRIGGER_ATTEMPTS` in all), not by the SNS delivery policy or the EventBridge target's retry
policy, which apply only when Lambda cannot be reached. So the last attempt is the last chance to alert: it
alerts, releases the instance (CONTINUE) and finishes the record with a note; the sweeper removes the VM
resource once Azure DevOps answers again (the instance is then terminated in this region, and recorded).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from adoscale.ado.client import AdoClient
from adoscale.ado.errors import AdoError, AdoNotFoundError
from adoscale.environments.events import Kind, LifecycleEvent
from adoscale.environments.ports import Alerts, Instances, LifecycleActions, NoAlerts
from adoscale.environments.state import InstanceRecord, StateTable, Status
from adoscale.transient import RetryLaterError

log = logging.getLogger("adoscale.environments")

TAG_PROJECT = "adoscale:project"
TAG_ENVIRONMENT = "adoscale:environment"
TAG_VM_TAGS = "adoscale:vm-tags"


@dataclass(frozen=True, slots=True)
class HookTiming:
    """The terminate hook's heartbeat timeout; its global timeout is 100 heartbeats or 48 h, whichever is
    smaller. The action is completed anyway once less than `margin_s` of the global timeout is left."""

    heartbeat_s: int = 300
    margin_s: int = 600
    attempts: int = 3  # TRIGGER_ATTEMPTS: deliveries of one event (Lambda's first try and its 2 retries)

    @property
    def global_s(self) -> int:
        return min(100 * self.heartbeat_s, 172800)


@dataclass(frozen=True, slots=True)
class Outcome:
    instance_id: str
    action: str  # recorded | deregistered | already-done | ignored | gave-up
    detail: str = ""


class LifecycleService:
    """Launch and terminate events of Environment VMs, through the ports of `adoscale.environments.ports`."""

    def __init__(
        self,
        ado: AdoClient,
        state: StateTable,
        instances: Instances,
        actions: LifecycleActions,
        clock: Callable[[], datetime],
        *,
        alerts: Alerts | None = None,
        timing: HookTiming | None = None,
    ) -> None:
        self._ado = ado
        self._state = state
        self._instances = instances
        self._actions = actions
        self._clock = clock
        self._alerts: Alerts = alerts or NoAlerts()
        self._timing = timing or HookTiming()

    def handle(self, event: LifecycleEvent) -> Outcome:
        if event.kind is Kind.TEST:
            log.info("Auto Scaling test notification for %s: ignored", event.asg_name or "a group")
            return Outcome("", "ignored", "test notification")
        if event.kind is Kind.LAUNCH:
            return self.launch(event)
        return self.terminate(event)

    # -- launch ----------------------------------------------------------------------------------

    def launch(self, event: LifecycleEvent) -> Outcome:
        existing = self._state.get(event.instance_id)
        if existing is not None:
            # A duplicate, or a launch delivered after its terminate: never resurrect a finished item.
            self._complete(event, "CONTINUE")
            return Outcome(event.instance_id, "already-done", f"item exists ({existing.status})")
        tags = self._instances.tags(event.instance_id)
        project, environment = tags.get(TAG_PROJECT), tags.get(TAG_ENVIRONMENT)
        if not project or not environment:
            log.warning(
                "%s has no %s/%s tags: not an Environment VM, ignored", event.instance_id, TAG_PROJECT, TAG_ENVIRONMENT
            )
            self._complete(event, "CONTINUE")
            return Outcome(event.instance_id, "ignored", "no adoscale tags")
        try:
            env = self._ado.get_environment(project, environment)
            pool = self._ado.get_environment_pool(project, env.id)
            resource = self._ado.find_vm_resource(project, env.id, event.instance_id)
        except AdoNotFoundError as exc:
            # The tags name a project or Environment that does not exist: retrying cannot help.
            log.warning(
                "%s: tagged for %s/%s, which Azure DevOps does not know: ignored (%s)",
                event.instance_id,
                project,
                environment,
                exc,
            )
            self._complete(event, "CONTINUE")
            return Outcome(event.instance_id, "ignored", "environment not found")
        except AdoError as exc:
            raise RetryLaterError(f"{event.instance_id}: Azure DevOps unavailable at launch: {exc}") from exc
        record = InstanceRecord(
            instance_id=event.instance_id,
            project=project,
            environment_name=environment,
            environment_id=env.id,
            pool_id=pool.id,
            vm_tags=tags.get(TAG_VM_TAGS, ""),
            asg_name=event.asg_name,
            launched_at=self._clock(),
            status=Status.REGISTERED,
            vm_resource_id=resource.id if resource else None,
            agent_id=resource.agent.id if resource and resource.agent else None,
        )
        created = self._state.create(record)
        self._complete(event, "CONTINUE")
        return Outcome(event.instance_id, "recorded" if created else "already-done")

    # -- terminate -------------------------------------------------------------------------------

    def terminate(self, event: LifecycleEvent) -> Outcome:
        item = self._state.get(event.instance_id)
        now = self._clock()
        if item is None:
            # Terminate before launch (or a launch never recorded): remember it so that a late launch
            # does not register it; the sweeper removes any VM resource left behind.
            self._state.create(
                InstanceRecord.finished(event.instance_id, event.asg_name, now, "terminated before its launch was seen")
            )
            log.warning("%s: terminate before launch; nothing recorded to deregister", event.instance_id)
            self._complete(event, "CONTINUE")
            return Outcome(event.instance_id, "already-done", "no launch record")
        if item.status is Status.DONE:
            self._complete(event, "CONTINUE")
            return Outcome(event.instance_id, "already-done", "duplicate terminate")
        if item.status is not Status.TERMINATING or item.terminating_since is None:
            self._state.start_terminating(event.instance_id, now)
            item = item.model_copy(update={"status": Status.TERMINATING, "terminating_since": now, "attempts": 0})
        try:
            removed = self._deregister(item)
        except AdoError as exc:
            return self._retry_or_give_up(event, item, exc)
        self._state.mark_done(event.instance_id, now)
        self._complete(event, "CONTINUE")
        return Outcome(event.instance_id, "deregistered", removed)

    def _deregister(self, item: InstanceRecord) -> str:
        if item.project is None or item.environment_id is None:
            return "nothing recorded to remove"
        project = item.project
        env_id = item.environment_id
        resource_id = item.vm_resource_id
        agent_id = item.agent_id
        if resource_id is None or agent_id is None:
            found = self._ado.find_vm_resource(project, env_id, item.instance_id)
            if found is not None:
                resource_id = found.id
                agent_id = found.agent.id if found.agent else agent_id
        removed: list[str] = []
        if resource_id is not None and self._ado.delete_vm_resource(project, env_id, resource_id):
            removed.append(f"VM resource {resource_id}")
        if agent_id is not None:
            pool_id = item.pool_id or self._ado.get_environment_pool(project, env_id).id
            try:
                if self._ado.delete_agent(pool_id, agent_id):
                    removed.append(f"agent {agent_id} in pool {pool_id}")
            except AdoNotFoundError:
                pass
        return ", ".join(removed) or "nothing left to remove"

    def _retry_or_give_up(self, event: LifecycleEvent, item: InstanceRecord, exc: AdoError) -> Outcome:
        now = self._clock()
        elapsed = (now - (item.terminating_since or now)).total_seconds()
        attempts = item.attempts + 1
        self._state.record_failure(event.instance_id, attempts, str(exc))
        last_attempt = attempts >= self._timing.attempts
        hook_expiring = event.hook_name is not None and elapsed >= self._timing.global_s - self._timing.margin_s
        if not last_attempt and not hook_expiring:
            self._heartbeat(event)
            raise RetryLaterError(f"{event.instance_id}: deregistration failed (attempt {attempts}): {exc}") from exc
        why = (
            "the lifecycle hook is about to time out"
            if hook_expiring
            else f"this was the trigger's last attempt ({attempts} of {self._timing.attempts})"
        )
        message = (
            f"{event.instance_id} is terminating while still registered in Environment "
            f"{item.environment_name} of {item.project}: Azure DevOps failed for {elapsed:.0f} s "
            f"({exc}). As {why}, the instance is released; the sweeper removes the VM resource once ADO answers."
        )
        log.error(message)
        self._alerts.alert("adoscale: VM still registered", message)
        self._complete(event, "CONTINUE")
        # Finished here, not left `terminating` for ever: no delivery of this event will come again.
        self._state.mark_done(event.instance_id, now, note="released while still registered; left to the sweeper")
        return Outcome(event.instance_id, "gave-up", message)

    # -- lifecycle actions -------------------------------------------------------------------------

    def _complete(self, event: LifecycleEvent, result: str) -> None:
        if not self._actions.complete(event, result):
            # A duplicate delivery after the action was completed, or one that timed out: nothing waits.
            log.warning("%s: no lifecycle action waits on this token (completed or expired)", event.instance_id)

    def _heartbeat(self, event: LifecycleEvent) -> None:
        self._actions.heartbeat(event)
