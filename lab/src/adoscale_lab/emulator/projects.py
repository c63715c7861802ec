"""Projects, by name or id: job requests and Environments both belong to one."""

from __future__ import annotations

import threading
import uuid

from adoscale_lab.emulator.entities import Project
from adoscale_lab.emulator.errors import EmulatorError


class Projects:
    def __init__(self, lock: threading.RLock, org: str) -> None:
        self._lock = lock
        self._org = org
        self._projects: dict[str, Project] = {}

    def create_project(self, name: str) -> str:
        with self._lock:
            project_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"adoscale-emulator/{self._org}/{name}"))
            self._projects[project_id] = Project(project_id, name)
            return project_id

    def projects(self) -> list[Project]:
        with self._lock:
            return list(self._projects.values())

    def project(self, name_or_id: str) -> Project:
        with self._lock:
            if name_or_id in self._projects:
                return self._projects[name_or_id]
            for project in self._projects.values():
                if project.name.lower() == name_or_id.lower():
                    return project
        raise EmulatorError(
            404,
            "ProjectDoesNotExistWithNameException",
            f"TF200016: The following project does not exist: {name_or_id}. Verify that the name of the "
            "project is correct and that the project exists on the specified Azure DevOps Server.",
            "Microsoft.TeamFoundation.Core.WebApi.ProjectDoesNotExistWithNameException",
        )
