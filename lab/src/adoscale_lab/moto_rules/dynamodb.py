"""DynamoDB checks a write's condition and writes the item as one atomic step ("conditional writes",
docs.aws.amazon.com/amazondynamodb/latest/developerguide/WorkingWithItems.html#WorkingWithItems.ConditionalUpdate);
moto reads the item, evaluates the condition and writes without a lock, so two threads can both pass the same
condition. The lease rests on that rule."""

from __future__ import annotations

import functools
import threading
from typing import Any

from adoscale_lab.moto_rules.patches import Patcher

DYNAMODB_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")


def atomic_writes(monkeypatch: Patcher) -> threading.RLock:
    """One lock around each write call of moto's DynamoDB backend, so a condition is checked and the write
    made with no other write in between."""
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    for name in DYNAMODB_WRITES:
        original = getattr(DynamoDBBackend, name, None)
        if original is None:
            continue

        @functools.wraps(original)
        def atomic(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return _original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, atomic)
    return lock
