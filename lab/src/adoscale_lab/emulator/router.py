"""One small router for the ADO API and the admin API: a table of routes, matched in order.

The table is built where the app is built (`EmulatorApp`), from lists the API modules return; nothing
registers itself at import time, so what the emulator serves is what that one place says.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from adoscale_lab.emulator.locations import Location
from adoscale_lab.emulator.messages import Response

# Called with the request and the template's `{name}` segments as keyword arguments.
Endpoint = Callable[..., Response]


def _compile(template: str, ignore_case: bool) -> re.Pattern[str]:
    pattern = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "/?$"
    return re.compile(pattern, re.IGNORECASE if ignore_case else 0)


@dataclass(frozen=True, slots=True)
class Route:
    """`location`: an ADO route, checked for api-version, authentication and faults; None: an admin route.

    ADO paths match ignoring case, as the service's do; admin paths are the emulator's own and exact.
    """

    method: str
    template: str
    endpoint: Endpoint
    location: Location | None = None
    pattern: re.Pattern[str] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pattern", _compile(self.template, ignore_case=self.location is not None))


class Router:
    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes = tuple(routes)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The first route for `method` and `path`, and the path's parameters."""
        for route in self.routes:
            if route.method != method:
                continue
            found = route.pattern.match(path)
            if found is not None:
                return route, found.groupdict()
        return None
