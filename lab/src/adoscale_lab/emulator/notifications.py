"""The "Run job state changed" notification (`ms.vss-pipelines.job-state-changed-event`, publisher
`pipelines`) as Microsoft documents it (../shared/ado-api/README.md §7): the wire form of a `JobEvent`.

A pure function of the event, so service-hook delivery and in-process subscribers render the same payload.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from adoscale_lab.emulator.events import JobEvent
from adoscale_lab.emulator.wire import timestamp

JSON = dict[str, Any]
JOB_STATE_CHANGED = "ms.vss-pipelines.job-state-changed-event"

# The service's job states (camelCase, as in the documented payload); "assigned" has no state of its own.
_STATES = {"queued": "waiting", "assigned": "waiting", "started": "inProgress", "completed": "completed"}


def _ts(value: datetime | None) -> str | None:
    return None if value is None else timestamp(value)


def job_state_changed(event: JobEvent) -> JSON:
    """The `job-state-changed` payload for `event.job` after `event.transition`; no subscription filled in."""
    job, transition = event.job, event.transition
    base = f"https://dev.azure.com/{event.org}"
    project_id = job.project_id or "02696e26-a35b-424c-86b8-1f54e1b0b4b7"
    state = _STATES[transition]
    pipeline = {
        "url": f"{base}/{project_id}/_apis/Pipelines/{job.definition_id}?revision=1",
        "id": job.definition_id,
        "revision": 1,
        "name": f"pipeline-{job.definition_id}",
        "folder": "\\",
    }
    run_name = f"20250602.{job.build_id % 100}"
    text = f"Run {run_name} job __default is {state}."
    job_body: JSON = {
        "_links": {
            "web": {"href": f"{base}/{project_id}/_build/results?buildId={job.build_id}"},
            "pipeline.web": {"href": f"{base}/{project_id}/_build/definition?definitionId={job.definition_id}"},
        },
        "id": job.job_id,
        "name": "__default",
        "state": state,
        "startTime": _ts(job.receive_time),
        "finishTime": _ts(job.finish_time),
        "attempt": 1,
    }
    if job.result is not None:
        job_body["result"] = job.result
    return {
        "subscriptionId": None,  # filled in per delivery
        "notificationId": 0,
        "id": event.id,
        "eventType": JOB_STATE_CHANGED,
        "publisherId": "pipelines",
        "message": {"text": text, "html": text, "markdown": text},
        "detailedMessage": {"text": text, "html": text, "markdown": text},
        "resource": {
            "job": job_body,
            "stage": {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, job.plan_id)), "name": "__default", "state": state},
            "run": {
                "pipeline": pipeline,
                "state": "completed" if state == "completed" else "inProgress",
                "createdDate": _ts(job.queue_time),
                "id": job.build_id,
                "name": run_name,
            },
            "pipeline": pipeline,
            "projectId": project_id,
        },
        "resourceVersion": "5.1-preview.1",
        "resourceContainers": {
            "collection": {"id": event.host_id},
            "account": {"id": event.host_id},
            "project": {"id": project_id},
        },
        "createdDate": _ts(event.at),
        # Not in the service's payload: what the emulator knows and a hook receiver may use in tests.
        "x-emulator": {"transition": transition, "requestId": job.request_id, "poolId": job.pool_id},
    }
