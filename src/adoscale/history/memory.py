"""History in memory: for `serve` (one process) and the simulator."""

from __future__ import annotations

from adoscale.history.base import HistoryRecord


class MemoryHistory:
    def __init__(self) -> None:
        self._records: dict[str, HistoryRecord] = {}

    def load(self, pool: str) -> HistoryRecord:
        return self._records.get(pool, HistoryRecord()).copy()

    def save(self, pool: str, record: HistoryRecord) -> None:
        self._records[pool] = record.copy()
