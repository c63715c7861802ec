"""How a rule is installed: through anything with pytest's `MonkeyPatch.setattr` (tests), or `Patches`, which
keeps the originals so a demo or sandbox can put them back."""

from __future__ import annotations

from typing import Any, Protocol


class Patcher(Protocol):
    def setattr(self, target: Any, name: str, value: Any, raising: bool = ...) -> None: ...


class Patches:
    """A `Patcher` outside pytest: `undo()` restores every attribute in reverse order."""

    def __init__(self) -> None:
        self._saved: list[tuple[Any, str, Any, bool]] = []

    def setattr(self, target: Any, name: str, value: Any, raising: bool = True) -> None:
        if raising and not hasattr(target, name):
            raise AttributeError(f"{target!r} has no attribute {name!r}")
        existed = name in vars(target) if isinstance(target, type) else hasattr(target, name)
        self._saved.append((target, name, getattr(target, name, None), existed))
        setattr(target, name, value)

    def undo(self) -> None:
        while self._saved:
            target, name, value, existed = self._saved.pop()
            if existed:
                setattr(target, name, value)
            else:
                delattr(target, name)
