"""The location service: which resources the emulator serves, where, and at which api-versions.

Clients generated from the service's metadata (Microsoft's SDKs) do not build URLs themselves: they ask
`OPTIONS /{org}/_apis` for an `ApiResourceLocation` per resource (id, area, resource name, route template,
versions) and fill the template in. The ids below are the ones in `azure-devops` 7.1's generated clients
where those clients have the resource; the others (marked) are the emulator's own, stable ids for resources
no published SDK covers.

api-version rules, as the service applies them (messages and type keys: see docs/emulator.md for which
are verbatim and which inferred): `X.Y`, `X.Y-preview` or `X.Y-preview.N`; above `maxVersion` is out of
range; below `minVersion` is no longer supported; above `releasedVersion` without `-preview` is a preview
error. A missing api-version is accepted (as clients such as KEDA rely on).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from adoscale_lab.emulator.errors import EmulatorError

_WEBAPI = "Microsoft.VisualStudio.Services.WebApi."
_VERSION = re.compile(r"^(?P<major>\d+)\.(?P<minor>\d+)(?P<preview>-preview(?:\.(?P<rv>\d+))?)?$", re.IGNORECASE)
MAX_VERSION = "7.2"


def _own(name: str) -> str:
    """A stable id for a resource no published SDK names (emulator-specific, see the module doc)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"adoscale-emulator/location/{name}"))


@dataclass(frozen=True, slots=True)
class Location:
    id: str
    area: str
    resource_name: str
    route_template: str
    released: str  # "0.0": preview only
    resource_version: int = 1
    min_version: str = "1.0"
    max_version: str = MAX_VERSION
    sdk_known: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "area": self.area,
            "resourceName": self.resource_name,
            "routeTemplate": self.route_template,
            "resourceVersion": self.resource_version,
            "minVersion": self.min_version,
            "maxVersion": self.max_version,
            "releasedVersion": self.released,
        }


class L:
    """The resources served. Area ids in RESOURCE_AREAS; route templates in the service's own syntax."""

    POOLS = Location(
        "a8c47e17-4d56-4a56-92bb-de7ea7dc65be", "distributedtask", "pools", "_apis/{area}/{resource}/{poolId}", "7.1"
    )
    AGENTS = Location(
        "e298ef32-5878-4cab-993c-043836571f42",
        "distributedtask",
        "agents",
        "_apis/{area}/pools/{poolId}/{resource}/{agentId}",
        "7.1",
    )
    QUEUES = Location(
        "900fa995-c559-4923-aae7-f8424fe4fbea",
        "distributedtask",
        "queues",
        "{project}/_apis/{area}/{resource}/{queueId}",
        "7.1",
    )
    JOB_REQUESTS = Location(
        "fc825784-c92a-4299-9221-998a02d1b54f",
        "distributedtask",
        "jobrequests",
        "_apis/{area}/pools/{poolId}/{resource}/{requestId}",
        "0.0",
    )
    RESOURCE_USAGE = Location(
        "eae1d376-a8b1-4475-9041-1dfdbe8f0143",
        "distributedtask",
        "resourceusage",
        "_apis/{area}/{resource}",
        "0.0",
        resource_version=2,
    )
    ENVIRONMENTS = Location(
        "8572b1fc-2482-47fa-8f74-7e3ed53ee54b",
        "distributedtask",
        "environments",
        "{project}/_apis/{area}/{resource}/{environmentId}",
        "7.1",
    )
    # The `environments` area under `_apis/pipelines/…`: documented as preview only.
    PIPELINE_ENVIRONMENTS = Location(
        _own("environments/environments"),
        "environments",
        "environments",
        "{project}/_apis/pipelines/{resource}/{environmentId}",
        "0.0",
        sdk_known=False,
    )
    VM_RESOURCES = Location(
        _own("environments/virtualmachines"),
        "environments",
        "virtualmachines",
        "{project}/_apis/pipelines/environments/{environmentId}/providers/{resource}/{resourceId}",
        "0.0",
        sdk_known=False,
    )
    VM_POOL = Location(
        _own("environments/pool"),
        "environments",
        "pool",
        "{project}/_apis/pipelines/environments/{environmentId}/providers/virtualmachines/{resource}",
        "0.0",
        sdk_known=False,
    )
    PROJECTS = Location(
        "603fe2ac-9723-48b9-88ad-09305aa6c6e1",
        "core",
        "projects",
        "_apis/{resource}/{*projectId}",
        "7.1",
        resource_version=4,
    )
    SUBSCRIPTIONS = Location(
        "fc50d02a-849f-41fb-8af1-0a5216103269",
        "hooks",
        "subscriptions",
        "_apis/{area}/{resource}/{subscriptionId}",
        "7.1",
    )
    RESOURCE_AREAS = Location(
        "e81700f7-3be2-46de-8624-2eb35882fcaa", "Location", "ResourceAreas", "_apis/{resource}/{areaId}", "0.0"
    )
    CONNECTION_DATA = Location(
        "00d9565f-ed9c-4a06-9a50-00e7896ccab4", "Location", "ConnectionData", "_apis/{resource}", "0.0"
    )


# Resource areas: id -> name; every area lives at the organization's URL in the emulator.
RESOURCE_AREAS = {
    "a85b8835-c1a1-4aac-ae97-1c3d0ba72dbd": "distributedtask",
    "79134c72-4a58-4b42-976c-04e7115f32bf": "core",
    "0a833654-df2a-437e-8253-fe6b63b82035": "environments",
    "00d9565f-ed9c-4a06-9a50-00e7896ccab4": "Location",
}


def all_locations() -> list[Location]:
    return [value for value in vars(L).values() if isinstance(value, Location)]


def area_locations(area: str) -> list[Location]:
    """The locations of one area (`OPTIONS /{org}/_apis/{area}`, what the Node SDK asks), ignoring case."""
    return [location for location in all_locations() if location.area.lower() == area.lower()]


def _number(text: str) -> tuple[int, int]:
    major, _, minor = text.partition(".")
    return int(major), int(minor or 0)


def _error(type_key: str, message: str) -> EmulatorError:
    return EmulatorError(400, type_key, message, _WEBAPI + type_key)


def check_version(location: Location, version: str | None) -> None:
    """Raise the service's 400 for an api-version this resource does not accept."""
    if version is None or version == "":
        return
    match = _VERSION.match(version.strip())
    if match is None:
        raise _error(
            "VssInvalidApiVersionException",
            f"The api-version '{version}' is not valid. Specify an api-version such as '{location.released}' "
            f"or '{location.max_version}-preview.{location.resource_version}'.",
        )
    requested = (int(match["major"]), int(match["minor"]))
    shown = f"{match['major']}.{match['minor']}"
    if requested > _number(location.max_version):
        raise _error(
            "VssVersionOutOfRangeException",
            f"The requested REST API version of {shown} is out of range for this server. The latest REST API "
            f"version this server supports is {location.max_version}.",
        )
    if requested < _number(location.min_version):
        raise _error(
            "VssVersionNotSupportedException",
            f"The requested REST API version of {shown} is no longer supported. The oldest REST API version "
            f"this server supports is {location.min_version}.",
        )
    if match["preview"] is None and requested > _number(location.released):
        raise _error(
            "VssInvalidPreviewVersionException",
            f'The requested version "{version}" of the resource is under preview. The -preview flag must be '
            f'supplied in the api-version for such requests. For example: "{version}-preview"',
        )
