"""What ECS accepts of a pool's container overrides (RunTask: "A total of 8192 characters are allowed for
overrides. This limit includes the JSON formatting characters of the override structure", Amazon ECS API
Reference). The configuration is validated against exactly the overrides the ECS adapter sends, built here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

OVERRIDES_MAX = 8192


def container_overrides(
    container_name: str, pool: str, organization_url: str | None, environment: Mapping[str, str]
) -> dict[str, list[dict[str, object]]]:
    """RunTask's `overrides` for a pool's agent container: its pool and organization, then the pool's
    extra environment in name order. Configuration validation measures exactly this."""
    entries: list[dict[str, str]] = [{"name": "AZP_POOL", "value": pool}]
    if organization_url:
        entries.append({"name": "AZP_URL", "value": organization_url})
    entries += [{"name": k, "value": v} for k, v in sorted(environment.items())]
    return {"containerOverrides": [{"name": container_name, "environment": entries}]}


def overrides_size(overrides: Mapping[str, object]) -> int:
    """Characters of `overrides` as JSON, at its largest: as botocore sends it (`json.dumps` with its
    defaults: a space after each `,` and `:`, every non-ASCII character escaped as `\\uXXXX`), at least as
    long as a compact or unescaped count of the same structure, whichever ECS makes."""
    return len(json.dumps(overrides))
