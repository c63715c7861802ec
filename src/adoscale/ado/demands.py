"""Demand matching: does a set of agent capabilities satisfy a job's demands?

ADO serialises demands as plain strings: a bare name (``"java"``: the capability exists), or
``"<name> -equals <value>"``, or ``"<name> -gtVersion <version>"``. Names compare case-insensitively, as
ADO's own matcher does; ``-equals`` values compare case-insensitively too. ``-gtVersion`` parses both
sides as .NET's ``System.Version`` does (2 to 4 numeric parts, pre-release suffix dropped), as the service
does: ``java -gtVersion 11.0`` is *not* met by a capability ``17``.

``Agent.Version`` demands are ignored unless the capabilities carry ``Agent.Version``: adoscale often asks
the question for agents that do not exist yet (a pool's configured capabilities), and every agent
version adoscale launches satisfies the service's minimum-version demand.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

_NUMBER = re.compile(r"^\s*[+-]?\d+\s*$")
_INT32_MAX = 2**31 - 1
_OPERATOR = re.compile(r"^(?P<name>\S+)\s+-(?P<op>equals|gtVersion)\s+(?P<value>.+?)\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Demand:
    """One parsed demand."""

    name: str
    operator: str | None = None  # None (exists), "equals" or "gtversion"
    value: str | None = None

    @classmethod
    def parse(cls, text: str) -> Demand:
        text = text.strip()
        match = _OPERATOR.match(text)
        if match:
            return cls(match["name"], match["op"].lower(), match["value"])
        return cls(text)


def _version_key(version: str | None) -> tuple[int, ...] | None:
    """.NET `System.Version` parsing after the service's pre-release cut; None when it does not parse."""
    if not version:
        return None
    cut = version.find("-")
    if cut > 0:
        version = version[:cut]
    parts = version.split(".")
    if not 2 <= len(parts) <= 4 or not all(_NUMBER.match(p) for p in parts):
        return None
    numbers = [int(p.strip()) for p in parts]
    if any(n < 0 or n > _INT32_MAX for n in numbers):
        return None
    return tuple(numbers + [-1] * (4 - len(numbers)))  # .NET: a missing part is -1, so 1.0 < 1.0.0


def _at_least(have: str, wanted: str) -> bool:
    """The service's rule: an unparsable demand is met by anything, an unparsable capability by nothing
    parsable."""
    have_key, wanted_key = _version_key(have), _version_key(wanted)
    if wanted_key is None:
        return True
    if have_key is None:
        return False
    return have_key >= wanted_key


def _lowered(capabilities: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in capabilities.items()}


def _met(demand: Demand, lowered: Mapping[str, str]) -> bool:
    """Whether one demand is met by capabilities whose names are lowered (names are case-insensitive)."""
    key = demand.name.lower()
    if key == "agent.version" and key not in lowered:
        return True
    if key not in lowered:
        return False
    if demand.operator is None:
        return True
    have = lowered[key] or ""
    if demand.operator == "equals":
        return have.lower() == (demand.value or "").lower()
    # ADO calls this demand "minimum version": equal versions satisfy it.
    return _at_least(have, demand.value or "")


# A pass asks about every job request of a pool, and a pool's jobs repeat a handful of demand strings:
# each is parsed once per process (a `Demand` is immutable), not once per request.
_parsed = functools.lru_cache(maxsize=4096)(Demand.parse)


def satisfies(capabilities: Mapping[str, str], demands: Iterable[str]) -> bool:
    """Whether `capabilities` satisfy every demand string in `demands` (no demands: always)."""
    lowered = _lowered(capabilities)
    return all(_met(_parsed(d), lowered) for d in demands if d.strip())
