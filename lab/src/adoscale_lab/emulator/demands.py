"""Azure DevOps's own demand matching, written from the service's semantics, independent of the client.

This module imports nothing from `adoscale.ado` on purpose: the emulator must be able to disagree with
the client, so that a difference from the service shows up in a test (tests/emulator/test_demands_parity.py
compares the two).

What the service does (its `Demand` classes in Microsoft.TeamFoundation.DistributedTask.WebApi):

- A demand is ``name`` (the capability exists), ``name -equals value`` or ``name -gtVersion value``.
- ``-equals``: the capability exists and its value equals the demand's, ignoring case (OrdinalIgnoreCase).
- ``-gtVersion`` ("minimum version"): both sides are parsed as .NET ``System.Version`` after dropping
  everything from the first ``-`` (not at position 0). ``System.Version`` needs 2 to 4 dot-separated
  non-negative integers, so ``17`` does not parse. Two unparsable versions compare equal; an unparsable
  demand is below everything; an unparsable capability is below every parsable demand. Missing build and
  revision parts count as -1, so ``11.0 < 11.0.0``.
- Capability names are looked up ignoring case (inferred: the service keeps capabilities in a
  case-insensitive dictionary).
- ``Agent.Version`` is an ordinary system capability: an agent that does not report it fails the demand.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Operator names are matched ignoring case (inferred; the service's parser is not public).
_DEMAND = re.compile(r"^(?P<name>\S+)(?:\s+-(?P<op>equals|gtVersion)\s+(?P<value>.*?))?\s*$", re.IGNORECASE)
_INT32_MAX = 2**31 - 1
# .NET's NumberStyles.Integer: surrounding white space and a leading sign are allowed.
_COMPONENT = re.compile(r"^[\s]*[+-]?\d+[\s]*$")


@dataclass(frozen=True, slots=True)
class AdoDemand:
    name: str
    operator: str | None = None  # None (exists), "equals" or "gtVersion"
    value: str | None = None

    @classmethod
    def parse(cls, text: str) -> AdoDemand:
        match = _DEMAND.match(text.strip())
        if match is None:
            return cls(text.strip())
        op = match["op"]
        return cls(
            match["name"], None if op is None else ("equals" if op.lower() == "equals" else "gtVersion"), match["value"]
        )


def dotnet_version(text: str | None) -> tuple[int, int, int, int] | None:
    """`System.Version.TryParse` after the service's pre-release cut, or None when it does not parse.

    Missing build and revision parts are -1, as .NET stores them, which makes ``1.0 < 1.0.0``.
    """
    if not text:
        return None
    cut = text.find("-")
    if cut > 0:
        text = text[:cut]
    parts = text.split(".")
    if not 2 <= len(parts) <= 4:
        return None
    numbers: list[int] = []
    for part in parts:
        if not _COMPONENT.match(part):
            return None
        number = int(part.strip())
        if number < 0 or number > _INT32_MAX:
            return None
        numbers.append(number)
    while len(numbers) < 4:
        numbers.append(-1)
    return (numbers[0], numbers[1], numbers[2], numbers[3])


def compare_versions(left: str | None, right: str | None) -> int:
    """The service's `CompareVersion`: -1, 0 or 1, with unparsable versions below parsable ones."""
    a, b = dotnet_version(left), dotnet_version(right)
    if a is None and b is None:
        return 0
    if a is None:
        return -1
    if b is None:
        return 1
    return (a > b) - (a < b)


def demand_met(demand: AdoDemand, capabilities: Mapping[str, str]) -> bool:
    lowered = {k.lower(): v for k, v in capabilities.items()}
    have = lowered.get(demand.name.lower())
    if have is None:
        return False
    if demand.operator is None:
        return True
    if demand.operator == "equals":
        return (demand.value or "").lower() == have.lower()
    return compare_versions(demand.value, have) <= 0


def ado_satisfies(capabilities: Mapping[str, str], demands: Iterable[str]) -> bool:
    """Whether an agent with `capabilities` may take a job with `demands`, as the service decides."""
    return all(demand_met(AdoDemand.parse(d), capabilities) for d in demands if d.strip())
