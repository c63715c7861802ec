"""Demand matching: does a set of agent capabilities satisfy a job's demands?

ADO serialises demands as plain strings: a bare name (``"java"``: the capability exists), or
``"<name> -equals <value>"``, or ``"<name> -gtVersion <version>"``. Names compare case-insensitively, as
ADO's own matcher does; ``-equals`` values compare case-insensitively too.

``Agent.Version`` demands are ignored unless the capabilities carry ``Agent.Version``: adoscale often asks
the question for agents that do not exist yet (a pool's configured capabilities), and every agent
version adoscale launches satisfies the service's minimum-version demand.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

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


def _version_key(version: str) -> tuple[int, ...]:
    parts: list[int] = []
    for piece in version.strip().split("."):
        digits = re.match(r"\d+", piece)
        parts.append(int(digits.group()) if digits else 0)
    return tuple(parts)


def demand_satisfied(demand: Demand, capabilities: Mapping[str, str]) -> bool:
    """Whether one demand is met by `capabilities` (a name -> value map; names are case-insensitive)."""
    lowered = {k.lower(): v for k, v in capabilities.items()}
    key = demand.name.lower()
    if key == "agent.version" and key not in lowered:
        return True
    if key not in lowered:
        return False
    if demand.operator is None:
        return True
    have = lowered[key] or ""
    if demand.operator == "equals":
        return have.strip().lower() == (demand.value or "").strip().lower()
    # ADO calls this demand "minimum version": equal versions satisfy it.
    return _version_key(have) >= _version_key(demand.value or "")


def satisfies(capabilities: Mapping[str, str], demands: Iterable[str]) -> bool:
    """Whether `capabilities` satisfy every demand string in `demands` (no demands: always)."""
    return all(demand_satisfied(Demand.parse(d), capabilities) for d in demands if d.strip())
