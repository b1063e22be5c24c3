"""One kind of object in Dockyard's namespace, kept current by a list and a watch.

The runtime reads what runs from these caches, never with a request per workload: each cache
lists its kind once, then watches from the list's resourceVersion. A watch the server ends is
resumed from the last resourceVersion seen; one the server answers with `410 Gone` (it no
longer keeps that far back) is replaced by a fresh list; after a lost connection the cache
lists again, with a doubling back-off between tries, and says it is out of touch until a list
succeeds, so the runtime does not answer from stale objects. Objects are kept as the API's
plain dicts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

from lightkube import ApiError, Client
from lightkube.core.resource import NamespacedResource

log = logging.getLogger(__name__)

Obj = dict[str, Any]
BACKOFF_FIRST_SECONDS = 0.2
BACKOFF_MAX_SECONDS = 10.0


def name_of(obj: Obj) -> str:
    return str(obj["metadata"]["name"])


def plain(model: Any) -> Obj:
    """A lightkube model as the API's dict."""
    return dict(model.to_dict())


def version_of(obj: Obj) -> int:
    # resourceVersions are opaque to clients in general; every API server in use (etcd's
    # revision) gives integers, and comparing them keeps a write's answer from being
    # overtaken by an older watch event.
    try:
        return int(obj["metadata"].get("resourceVersion") or 0)
    except ValueError:
        return 0


class WatchCache:
    """Objects of one kind by name, with an index by one label (the proton's)."""

    def __init__(
        self,
        client: Client,
        resource: type[NamespacedResource],
        namespace: str,
        *,
        labels: dict[str, Any] | None = None,
        index_label: str | None = None,
        keep: bool = True,
        on_event: Callable[[str, Obj], None] | None = None,
    ) -> None:
        self._client = client
        self._resource = resource
        self._namespace = namespace
        self._labels = labels
        self._index_label = index_label
        self._keep = keep  # False: only `on_event` sees the objects (Events)
        self._on_event = on_event
        self._objects: dict[str, Obj] = {}
        self._index: dict[str, dict[str, Obj]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.synced = threading.Event()  # the first list is in
        self.trouble: str | None = None  # why the last list or watch failed, until one works
        self.relists = 0  # lists after the first (a 410 or an outage)
        self._thread = threading.Thread(
            target=self._run, name=f"dockyard-watch-{resource.__name__.lower()}", daemon=True
        )

    @property
    def kind(self) -> str:
        return self._resource.__name__

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()

    # --- reading -------------------------------------------------------------------------

    def get(self, name: str) -> Obj | None:
        with self._lock:
            return self._objects.get(name)

    def indexed(self, value: str) -> list[Obj]:
        """Objects whose index label has this value, by name."""
        with self._lock:
            return sorted(self._index.get(value, {}).values(), key=name_of)

    def values(self) -> list[Obj]:
        with self._lock:
            return list(self._objects.values())

    def __len__(self) -> int:
        return len(self._objects)

    # --- what the runtime's own writes teach ------------------------------------------------

    def remember(self, obj: Obj) -> None:
        """An object as a write answered: kept unless the watch already brought a newer one."""
        with self._lock:
            known = self._objects.get(name_of(obj))
            if known is None or version_of(known) < version_of(obj):
                self._put(obj)

    def forget(self, name: str) -> None:
        with self._lock:
            self._drop(name)

    # --- the loop ------------------------------------------------------------------------

    def _run(self) -> None:
        version: str | None = None
        delay = BACKOFF_FIRST_SECONDS
        while not self._stopping.is_set():
            try:
                if version is None:
                    version = self._relist()
                for kind, obj in self._watch(version):
                    version = obj["metadata"].get("resourceVersion") or version
                    self._apply(kind, obj)
                    if self.trouble is not None:
                        self._recovered()
                    delay = BACKOFF_FIRST_SECONDS
            except ApiError as exc:
                if exc.status.code == 410:
                    log.info("%s watch expired at %s; listing again", self.kind, version)
                    version = None
                    continue
                delay = self._failed(f"{exc.status.code} {exc.status.message}", delay)
                version = None
            except Exception as exc:  # transport, decoding, a closed client: all the same here
                if self._stopping.is_set():
                    return
                delay = self._failed(str(exc) or type(exc).__name__, delay)
                # Start again with a list: it shows at once whether the server is back (an idle
                # watch would not), and it is the catch-up on what happened meanwhile.
                version = None

    def _watch(self, version: str) -> Iterator[tuple[str, Obj]]:
        watched = self._client.watch(
            self._resource,
            namespace=self._namespace,
            labels=self._labels,
            resource_version=version,
        )
        for kind, obj in watched:
            if self._stopping.is_set():
                return
            yield kind, plain(obj)

    def _relist(self) -> str:
        listed = self._client.list(self._resource, namespace=self._namespace, labels=self._labels)
        objects = {name_of(obj): obj for obj in map(plain, listed)}
        version = listed.resourceVersion
        if self.synced.is_set():
            self.relists += 1
        with self._lock:
            before = self._objects
            self._objects, self._index = {}, {}
            for obj in objects.values():
                self._put(obj)
        if self._on_event is not None:
            for obj in objects.values():
                self._on_event("ADDED", obj)
            for name, obj in before.items():
                if name not in objects:
                    self._on_event("DELETED", obj)
        self.synced.set()
        if self.trouble is not None:
            self._recovered()
        return version

    def _apply(self, kind: str, obj: Obj) -> None:
        with self._lock:
            known = self._objects.get(name_of(obj))
            if known is not None and version_of(obj) < version_of(known):
                # A write's answer (`remember`) came before the watch caught up with it: this
                # event is older news, and applying it would make a stopped Deployment look
                # running again, so the next write would be skipped as already done.
                pass
            elif kind == "DELETED":
                self._drop(name_of(obj))
            elif kind in ("ADDED", "MODIFIED"):
                self._put(obj)
        if self._on_event is not None and kind in ("ADDED", "MODIFIED", "DELETED"):
            self._on_event(kind, obj)

    def _put(self, obj: Obj) -> None:
        if not self._keep:
            return
        name = name_of(obj)
        self._drop(name)
        self._objects[name] = obj
        if self._index_label is not None:
            value = (obj["metadata"].get("labels") or {}).get(self._index_label)
            if value is not None:
                self._index.setdefault(value, {})[name] = obj

    def _drop(self, name: str) -> None:
        old = self._objects.pop(name, None)
        if old is not None and self._index_label is not None:
            value = (old["metadata"].get("labels") or {}).get(self._index_label)
            bucket = self._index.get(value or "")
            if bucket is not None:
                bucket.pop(name, None)
                if not bucket:
                    del self._index[value or ""]

    def _failed(self, why: str, delay: float) -> float:
        if self.trouble is None:
            log.warning("%s watch lost: %s; retrying", self.kind, why)
        self.trouble = why
        self._stopping.wait(delay)
        return min(delay * 2, BACKOFF_MAX_SECONDS)

    def _recovered(self) -> None:
        log.info("%s watch running again", self.kind)
        self.trouble = None
