"""A small Kubernetes API server for the kubernetes runtime's tests, over real HTTP.

It speaks the REST API the runtime's client library uses, for the kinds Dockyard writes and
reads: an in-memory store keyed by (plural, namespace, name) with resourceVersions, uids and
creation times; lists with a `labelSelector` and the list's resourceVersion; watches from a
resourceVersion, replaying what happened since (and `410 Gone` for one older than it keeps);
`409 Conflict` on creating what exists and on a write carrying a stale resourceVersion; JSON
merge patches (strategic merge patches are treated as merge patches: lists are replaced);
SelfSubjectAccessReviews answered from a set of denied verbs; pod logs; and a `404` for a
namespace it does not have.

A test (or the kubelet, from the emulator's thread) changes an object in one step with
`update`, so that two writers never undo each other's change. A test can make it answer the
next matching request with an error (`fail_next`), end every watch with `410 Gone`
(`expire_watches`), and go away and come back on the same port (`stop`, `start`). It counts
the requests it served (`requests`). There is no controller: a test plays the kubelet
(`kubelet.py`) through `on_change` and the store's Python methods.

It runs on its own event loop in a thread, since the runtime's client blocks.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import re
import socket
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

Obj = dict[str, Any]
Key = tuple[str, str, str]  # (plural, namespace, name)

# plural → (apiVersion, kind)
KINDS: dict[str, tuple[str, str]] = {
    "pods": ("v1", "Pod"),
    "services": ("v1", "Service"),
    "secrets": ("v1", "Secret"),
    "events": ("v1", "Event"),
    "deployments": ("apps/v1", "Deployment"),
    "jobs": ("batch/v1", "Job"),
    "horizontalpodautoscalers": ("autoscaling/v2", "HorizontalPodAutoscaler"),
}
_GROUPS = {"pods": "", "services": "", "secrets": "", "events": "", "deployments": "apps"}
_GROUPS["jobs"] = "batch"
_GROUPS["horizontalpodautoscalers"] = "autoscaling"


def now_text(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_body(code: int, reason: str, message: str, **details: str) -> Obj:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "details": details,
        "code": code,
    }


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge key by key, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def selector_matches(selector: str | None, labels: dict[str, str]) -> bool:
    """Equality-based label selectors: `a=b`, `a==b`, `a!=b`, `a`, `!a`, comma-separated."""
    if not selector:
        return True
    for term in (t.strip() for t in selector.split(",")):
        if not term:
            continue
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k.strip()) == v.strip():
                return False
        elif "=" in term:
            k, v = re.split("==?", term, maxsplit=1)
            if labels.get(k.strip()) != v.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


@dataclass
class _Failure:
    method: str
    plural: str
    code: int
    reason: str
    message: str


@dataclass
class _Watcher:
    plural: str
    namespace: str | None
    selector: str | None
    queue: asyncio.Queue[tuple[str, Obj] | None]
    ending: str = ""  # "expired" → the stream ends with 410


@dataclass
class _Path:
    plural: str
    namespace: str | None = None
    name: str | None = None
    sub: str | None = None
    rest: str = ""  # after a service proxy's name


class Emulator:
    """The store and the HTTP server around it."""

    def __init__(self, namespaces: tuple[str, ...] = ("dockyard-workloads",)) -> None:
        self.namespaces = set(namespaces)
        self.objects: dict[Key, Obj] = {}
        self.history: list[tuple[int, str, str, Obj]] = []  # (rv, type, plural, object)
        self.oldest = 0  # a watch from a resourceVersion older than this gets 410
        self.rv = 100
        self.denied: set[tuple[str, str]] = set()  # (verb, resource) refused with 403
        self.requests: Counter[tuple[str, str]] = Counter()  # (method, plural or "watch …")
        self.logs: dict[tuple[str, str, str], list[tuple[datetime, str]]] = {}
        self.on_change: list[Callable[[str, str, Obj], None]] = []  # (type, plural, object)
        self.proxied: list[str] = []  # paths sent through the service proxy
        self._failures: list[_Failure] = []
        self._watchers: list[_Watcher] = []
        self._lock = threading.RLock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port = _free_port()
        self.service_proxy: Callable[[str, str, int, str], tuple[str, int] | None] | None = None

    # --- the server ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Emulator:
        ready = threading.Event()

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="k8s-emulator", daemon=True)
        self._thread.start()
        ready.wait(5)
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        assert self._loop is not None and self._thread is not None
        self.run(_cancel_the_rest())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def start(self) -> None:
        """Listen (again) on the same port."""
        self.run(self._start())

    def stop(self) -> None:
        """Go away: every watch ends and new connections are refused until `start`."""
        self.run(self._stop())

    def run(self, coro: Any) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()

    async def _stop(self) -> None:
        with self._lock:
            for watcher in self._watchers:
                watcher.queue.put_nowait(None)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- what a test changes -----------------------------------------------------------------

    def fail_next(
        self, method: str, plural: str, code: int = 409, reason: str = "Conflict", message: str = ""
    ) -> None:
        """Answer the next `method` request on `plural` with this error instead of serving it."""
        message = message or f"the object has been modified; please apply your changes ({code})"
        with self._lock:
            self._failures.append(_Failure(method.upper(), plural, code, reason, message))

    def expire_watches(self) -> None:
        """Forget the history (as etcd compaction does) and end every watch with 410 Gone."""
        with self._lock:
            self.oldest = self.rv
            self.history.clear()
            for watcher in self._watchers:
                watcher.ending = "expired"
                self._notify(watcher, None)

    def get(self, plural: str, namespace: str, name: str) -> Obj | None:
        with self._lock:
            found = self.objects.get((plural, namespace, name))
            return copy.deepcopy(found) if found is not None else None

    def list(
        self, plural: str, namespace: str | None = None, selector: str | None = None
    ) -> list[Obj]:
        with self._lock:
            return [copy.deepcopy(o) for o in self._matching(plural, namespace, selector)]

    def put(self, plural: str, obj: Obj, *, quiet: bool = False) -> Obj:
        """Create or replace an object as a controller would (no checks), and tell watchers
        (`quiet`: not yet, as when its watch event is still on its way)."""
        with self._lock:
            meta = obj.setdefault("metadata", {})
            key = (plural, meta["namespace"], meta["name"])
            existed = self.objects.get(key)
            self._stamp(plural, obj, existed)
            self.objects[key] = obj
            if not quiet:
                self._record("MODIFIED" if existed else "ADDED", plural, obj)
            return copy.deepcopy(obj)

    def update(
        self,
        plural: str,
        namespace: str,
        name: str,
        change: Callable[[Obj], object],
        *,
        quiet: bool = False,
    ) -> Obj | None:
        """Read, change and write back an object in one step, as a controller's write with the
        resourceVersion it read would (a `get` then a `put` from another thread could undo a
        write made between them); None when there is no such object. `change` edits the
        object in place; it is written only when that changed it."""
        with self._lock:
            found = self.get(plural, namespace, name)
            if found is None:
                return None
            before = copy.deepcopy(found)
            change(found)
            if found == before:
                return found
            return self.put(plural, found, quiet=quiet)

    def remove(self, plural: str, namespace: str, name: str) -> None:
        with self._lock:
            found = self.objects.pop((plural, namespace, name), None)
            if found is not None:
                self.rv += 1
                found["metadata"]["resourceVersion"] = str(self.rv)
                self._record("DELETED", plural, found)

    def add_log(self, namespace: str, pod: str, container: str, line: str) -> None:
        with self._lock:
            self.logs.setdefault((namespace, pod, container), []).append((datetime.now(UTC), line))

    def count(self, method: str | None = None, plural: str | None = None) -> int:
        return sum(
            n
            for (m, p), n in self.requests.items()
            if (method is None or m == method) and (plural is None or p == plural)
        )

    # --- the store -------------------------------------------------------------------------

    def _matching(self, plural: str, namespace: str | None, selector: str | None) -> Iterator[Obj]:
        for (p, ns, _), obj in sorted(self.objects.items()):
            if p != plural or (namespace is not None and ns != namespace):
                continue
            if selector_matches(selector, obj["metadata"].get("labels") or {}):
                yield obj

    def _stamp(self, plural: str, obj: Obj, existed: Obj | None) -> None:
        self.rv += 1
        api_version, kind = KINDS[plural]
        obj.setdefault("apiVersion", api_version)
        obj.setdefault("kind", kind)
        meta = obj["metadata"]
        meta["resourceVersion"] = str(self.rv)
        if existed is None:
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", now_text())
            meta["generation"] = 1
        else:
            old = existed["metadata"]
            meta["uid"] = old["uid"]
            meta["creationTimestamp"] = old["creationTimestamp"]
            changed = obj.get("spec") != existed.get("spec")
            meta["generation"] = old.get("generation", 1) + (1 if changed else 0)

    def _record(self, kind: str, plural: str, obj: Obj) -> None:
        snapshot = copy.deepcopy(obj)
        self.history.append((self.rv, kind, plural, snapshot))
        for watcher in self._watchers:
            if watcher.plural == plural:
                self._notify(watcher, (kind, snapshot))
        for hook in list(self.on_change):
            hook(kind, plural, snapshot)

    def _notify(self, watcher: _Watcher, item: tuple[str, Obj] | None) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(watcher.queue.put_nowait, item)

    # --- HTTP ------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = _parse(request.path)
        if path is None:
            if request.path == "/version":
                return _json({"major": "1", "minor": "33", "gitVersion": "v1.33.0-dockyard-test"})
            return _error(404, "NotFound", f"the server could not find {request.path}")
        watch = request.query.get("watch", "").lower() in ("true", "1")
        self.requests[(request.method, f"watch {path.plural}" if watch else path.plural)] += 1
        if path.plural == "selfsubjectaccessreviews":
            return await self._review(request)
        verb = _verb(request.method, path, watch)
        resource = path.plural + (f"/{path.sub}" if path.sub else "")
        if (verb, resource) in self.denied:
            group = _GROUPS.get(path.plural, "")
            return _error(
                403,
                "Forbidden",
                f'{path.plural} is forbidden: User "system:serviceaccount:dockyard:dockyard" '
                f'cannot {verb} resource "{resource}" in API group "{group}" in the namespace '
                f'"{path.namespace}"',
            )
        with self._lock:
            failure = next(
                (
                    f
                    for f in self._failures
                    if f.method == request.method and f.plural == path.plural
                ),
                None,
            )
            if failure is not None:
                self._failures.remove(failure)
        if failure is not None:
            return _error(failure.code, failure.reason, failure.message)
        if path.plural == "namespaces":
            if path.name in self.namespaces:
                return _json(
                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": path.name}}
                )
            return _error(404, "NotFound", f'namespaces "{path.name}" not found')
        if path.namespace is not None and path.namespace not in self.namespaces:
            return _error(404, "NotFound", f'namespaces "{path.namespace}" not found')
        if path.plural not in KINDS:
            return _error(404, "NotFound", f"the server could not find {request.path}")
        if path.sub == "log":
            return await self._log(request, path)
        if path.sub == "proxy":
            return await self._proxy(request, path)
        if request.method == "GET" and watch:
            return await self._watch(request, path)
        if request.method == "GET" and path.name is None:
            return self._list(request, path)
        if request.method == "GET":
            return self._get(path)
        if request.method == "POST":
            return self._create(path, await request.json(), request.query.get("dryRun"))
        if request.method in ("PATCH", "PUT"):
            body = await request.json()
            return self._write(request.method, path, body, request.content_type)
        if request.method == "DELETE":
            return self._delete(path)
        return _error(405, "MethodNotAllowed", f"{request.method} is not supported here")

    async def _review(self, request: web.Request) -> web.Response:
        body = await request.json()
        asked = body.get("spec", {}).get("resourceAttributes", {})
        resource = asked.get("resource", "")
        if asked.get("subresource"):
            resource += "/" + asked["subresource"]
        allowed = (asked.get("verb"), resource) not in self.denied
        body["status"] = {"allowed": allowed}
        if not allowed:
            body["status"]["reason"] = "no rule of the Role allows it"
        return _json(body, status=201)

    def _list(self, request: web.Request, path: _Path) -> web.Response:
        selector = request.query.get("labelSelector")
        with self._lock:
            items = [
                copy.deepcopy(o) for o in self._matching(path.plural, path.namespace, selector)
            ]
            rv = str(self.rv)
        api_version, kind = KINDS[path.plural]
        return _json(
            {
                "apiVersion": api_version,
                "kind": f"{kind}List",
                "metadata": {"resourceVersion": rv},
                "items": items,
            }
        )

    def _get(self, path: _Path) -> web.Response:
        found = self.get(path.plural, path.namespace or "", path.name or "")
        if found is None:
            return _not_found(path)
        return _json(found)

    def _create(self, path: _Path, body: Obj, dry_run: str | None) -> web.Response:
        meta = body.setdefault("metadata", {})
        name = meta.get("name")
        if not name:
            return _error(422, "Invalid", "metadata.name: Required value")
        meta["namespace"] = path.namespace
        with self._lock:
            key = (path.plural, path.namespace or "", name)
            if key in self.objects:
                kind = KINDS[path.plural][1]
                return _error(
                    409,
                    "AlreadyExists",
                    f'{path.plural} "{name}" already exists',
                    name=name,
                    kind=kind,
                )
            if dry_run:
                return _json(body, status=201)
            meta.pop("resourceVersion", None)
            self._stamp(path.plural, body, None)
            self.objects[key] = body
            self._record("ADDED", path.plural, body)
            return _json(copy.deepcopy(body), status=201)

    def _write(self, method: str, path: _Path, body: Obj, content_type: str) -> web.Response:
        with self._lock:
            key = (path.plural, path.namespace or "", path.name or "")
            existed = self.objects.get(key)
            if existed is None:
                return _not_found(path)
            if "json-patch" in content_type:
                return _error(415, "UnsupportedMediaType", "JSON patches are not emulated")
            asked_rv = (body.get("metadata") or {}).get("resourceVersion")
            current_rv = existed["metadata"]["resourceVersion"]
            if asked_rv is not None and asked_rv != current_rv:
                return _error(
                    409,
                    "Conflict",
                    f'Operation cannot be fulfilled on {path.plural} "{path.name}": the object '
                    "has been modified; please apply your changes to the latest version and try "
                    "again",
                )
            if method == "PUT":
                updated = copy.deepcopy(body)
                if path.sub != "status":
                    updated["status"] = copy.deepcopy(existed.get("status"))
            else:
                updated = merge_patch(existed, body)
            updated.setdefault("metadata", {})
            updated["metadata"]["name"] = path.name
            updated["metadata"]["namespace"] = path.namespace
            self._stamp(path.plural, updated, existed)
            self.objects[key] = updated
            self._record("MODIFIED", path.plural, updated)
            return _json(copy.deepcopy(updated))

    def _delete(self, path: _Path) -> web.Response:
        with self._lock:
            if (path.plural, path.namespace or "", path.name or "") not in self.objects:
                return _not_found(path)
            self.remove(path.plural, path.namespace or "", path.name or "")
        return _json({"kind": "Status", "apiVersion": "v1", "status": "Success", "metadata": {}})

    async def _watch(self, request: web.Request, path: _Path) -> web.StreamResponse:
        since = request.query.get("resourceVersion")
        selector = request.query.get("labelSelector")
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        watcher = _Watcher(path.plural, path.namespace, selector, asyncio.Queue())
        with self._lock:
            if since and since != "0" and int(since) < self.oldest:
                await _send(response, "ERROR", _gone(since))
                return response
            if since and since != "0":
                backlog = [
                    (kind, obj)
                    for rv, kind, plural, obj in self.history
                    if rv > int(since) and plural == path.plural
                ]
            else:
                backlog = [
                    ("ADDED", copy.deepcopy(o))
                    for o in self._matching(path.plural, path.namespace, selector)
                ]
            self._watchers.append(watcher)
        try:
            for kind, obj in backlog:
                if self._wanted(watcher, obj):
                    await _send(response, kind, obj)
            while True:
                item = await watcher.queue.get()
                if item is None:
                    if watcher.ending == "expired":
                        await _send(response, "ERROR", _gone(since or "0"))
                    break
                if self._wanted(watcher, item[1]):
                    await _send(response, *item)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            with self._lock:
                self._watchers.remove(watcher)
        return response

    def _wanted(self, watcher: _Watcher, obj: Obj) -> bool:
        meta = obj["metadata"]
        if watcher.namespace is not None and meta.get("namespace") != watcher.namespace:
            return False
        return selector_matches(watcher.selector, meta.get("labels") or {})

    async def _log(self, request: web.Request, path: _Path) -> web.StreamResponse:
        pod = self.get("pods", path.namespace or "", path.name or "")
        if pod is None:
            return _not_found(path)
        containers = [c["name"] for c in pod["spec"]["containers"]]
        container = request.query.get("container") or containers[0]
        stamps = request.query.get("timestamps", "").lower() == "true"
        since_seconds = request.query.get("sinceSeconds")
        since_time = request.query.get("sinceTime")
        tail = request.query.get("tailLines")
        cutoff = None
        if since_seconds:
            cutoff = datetime.now(UTC) - timedelta(seconds=int(since_seconds))
        elif since_time:
            cutoff = datetime.fromisoformat(since_time.replace("Z", "+00:00"))
        key = (path.namespace or "", path.name or "", container)

        def lines(start: int) -> list[str]:
            with self._lock:
                found = self.logs.get(key, [])[start:]
            return [
                (f"{moment.isoformat().replace('+00:00', 'Z')} " if stamps else "") + text + "\n"
                for moment, text in found
                if cutoff is None or moment >= cutoff
            ]

        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        sent = len(self.logs.get(key, []))
        first = lines(0)
        if tail:
            first = first[-int(tail) :] if int(tail) else []
        for line in first:
            await response.write(line.encode())
        if request.query.get("follow", "").lower() == "true":
            for _ in itertools.count():
                await asyncio.sleep(0.05)
                if self.get("pods", path.namespace or "", path.name or "") is None:
                    break
                fresh = lines(sent)
                sent += len(fresh)
                for line in fresh:
                    await response.write(line.encode())
        return response

    async def _proxy(self, request: web.Request, path: _Path) -> web.StreamResponse:
        from aiohttp import ClientSession

        name, _, port = (path.name or "").partition(":")
        target = None
        if self.service_proxy is not None:
            target = self.service_proxy(path.namespace or "", name, int(port or 80), path.rest)
        if target is None:
            return _error(503, "ServiceUnavailable", f'no endpoints available for service "{name}"')
        self.proxied.append(path.rest)
        host, target_port = target
        url = f"http://{host}:{target_port}/{path.rest}"
        async with (
            ClientSession() as session,
            session.request(
                request.method,
                url,
                params=request.query,
                data=await request.read(),
                headers={
                    k: v
                    for k, v in request.headers.items()
                    if k.lower() not in ("host", "content-length", "transfer-encoding")
                },
            ) as answer,
        ):
            body = await answer.read()
            kind = answer.headers.get("Content-Type", "application/octet-stream")
            return web.Response(body=body, status=answer.status, headers={"Content-Type": kind})


async def _cancel_the_rest() -> None:
    current = asyncio.current_task()
    for task in asyncio.all_tasks():
        if task is not current:
            task.cancel()


def _verb(method: str, path: _Path, watch: bool) -> str:
    if watch:
        return "watch"
    if method == "GET":
        return "list" if path.name is None else "get"
    return {"POST": "create", "PATCH": "patch", "PUT": "update", "DELETE": "delete"}.get(
        method, method.lower()
    )


def _parse(raw: str) -> _Path | None:
    parts = [p for p in raw.split("/") if p]
    if len(parts) >= 3 and parts[0] == "api":
        rest = parts[2:]
    elif len(parts) >= 4 and parts[0] == "apis":
        rest = parts[3:]
    else:
        return None
    if rest == ["selfsubjectaccessreviews"]:
        return _Path("selfsubjectaccessreviews")
    if rest[0] == "namespaces" and len(rest) == 2:
        return _Path("namespaces", name=rest[1])
    if rest[0] != "namespaces" or len(rest) < 3:
        return _Path(rest[0]) if len(rest) == 1 else None
    found = _Path(rest[2], namespace=rest[1])
    if len(rest) >= 4:
        found.name = rest[3]
    if len(rest) >= 5:
        found.sub = rest[4]
        found.rest = "/".join(rest[5:])
    return found


async def _send(response: web.StreamResponse, kind: str, obj: Obj) -> None:
    await response.write((json.dumps({"type": kind, "object": obj}) + "\n").encode())


def _gone(since: str) -> Obj:
    return status_body(410, "Expired", f"too old resource version: {since}")


def _json(body: Obj, status: int = 200) -> web.Response:
    # Exactly `application/json`: some clients will not decode an error body otherwise.
    return web.Response(
        body=json.dumps(body).encode(), status=status, content_type="application/json"
    )


def _error(code: int, reason: str, message: str, **details: str) -> web.Response:
    return _json(status_body(code, reason, message, **details), status=code)


def _not_found(path: _Path) -> web.Response:
    return _error(404, "NotFound", f'{path.plural} "{path.name}" not found', name=path.name or "")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
