"""The one error the model raises: a broken rule of the service, with what the HTTP layer needs to answer it."""

from __future__ import annotations


class EmulatorError(Exception):
    """A rule of the service was broken; the HTTP layer turns it into ADO's error envelope."""

    def __init__(self, status: int, type_key: str, message: str, type_name: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.type_key = type_key
        self.message = message
        self.type_name = type_name or f"Microsoft.TeamFoundation.DistributedTask.WebApi.{type_key}"
