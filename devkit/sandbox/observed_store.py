"""The sandbox's store: the shipped object store, wrapped so that writes can be watched.

FC delivers OSS triggers from the bucket itself; locally the sandbox has to see each
write to emulate them (and to let the ICE simulator see stored callbacks). Wrapping
the store here keeps that hook out of the shipped client: production puts pay nothing.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

from shared.log import logger

# listener(bucket, key, put result, size in bytes), called after a put that created an object
WriteListener = Callable[[str, str, Any, int], None]


class ObservedStore:
    """Delegates every operation to `inner`; tells the listeners of each object it creates.

    A put whose `if_absent` found the object already there (`created=False`) is not a
    new object and tells nobody, as OSS fires no trigger for a refused write.
    """

    def __init__(self, inner: Any, listeners: list[WriteListener] | None = None) -> None:
        self.inner = inner
        self.bucket: str = inner.bucket
        self._listeners: list[WriteListener] = list(listeners or [])
        self._lock = threading.Lock()

    def add_listener(self, fn: WriteListener) -> None:
        """Call `fn` after every write that creates an object."""
        with self._lock:
            self._listeners.append(fn)

    def remove_listener(self, fn: WriteListener) -> None:
        """Stop calling `fn` (no error if it was not listening)."""
        with self._lock:
            if fn in self._listeners:
                self._listeners.remove(fn)

    def put(self, key: str, data: bytes, **kwargs: Any) -> Any:
        result = self.inner.put(key, data, **kwargs)
        if result.created:
            with self._lock:
                listeners = list(self._listeners)
            for fn in listeners:
                try:
                    fn(self.bucket, result.key, result, len(data))
                except Exception:  # a listener (sandbox tooling) must never fail the write itself
                    logger.exception("object store write listener failed", extra={"key": result.key})
        return result

    def get(self, key: str) -> Any:
        return self.inner.get(key)

    def head(self, key: str) -> Any:
        return self.inner.head(key)

    def list(self, prefix: str, **kwargs: Any) -> Iterator[Any]:
        return self.inner.list(prefix, **kwargs)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> Any:  # endpoint, region, ... of the wrapped store
        return getattr(self.inner, name)


def observe_process_store(listeners: list[WriteListener] | None = None) -> ObservedStore:
    """Wrap the process-wide store (`shared.clients.object_store.get_store()`) and make the
    wrapper the process-wide store, so every function in this process writes through it."""
    from shared.clients import object_store

    current = object_store.get_store()
    if isinstance(current, ObservedStore):
        for fn in listeners or []:
            current.add_listener(fn)
        return current
    observed = ObservedStore(current, listeners)
    object_store.use_store(observed)
    return observed
