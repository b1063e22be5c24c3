"""How Dockyard reaches the cluster: the client, the namespace, and the checks made at start.

In a pod, Dockyard uses its service account and its own namespace; elsewhere the kubeconfig
(`KUBECONFIG`, else `~/.kube/config`), its current context or `DOCKYARD_KUBERNETES_CONTEXT`,
and the namespace `dockyard-workloads`; `DOCKYARD_KUBERNETES_NAMESPACE` overrides either. The
start-time checks turn what would otherwise surface as a failed reconcile pass much later (no
API server, no namespace, a Role without a verb) into one sentence naming what is missing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx2
from lightkube import ApiError, Client, ConfigError, KubeConfig
from lightkube.config.kubeconfig import SERVICE_ACCOUNT, SingleConfig
from lightkube.models.authorization_v1 import ResourceAttributes, SelfSubjectAccessReviewSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.authorization_v1 import SelfSubjectAccessReview
from lightkube.resources.core_v1 import Secret

from dockyard.server.runtimes.base import RuntimePermanentError
from dockyard.server.settings import KubernetesRoute, Settings

DEFAULT_NAMESPACE = "dockyard-workloads"
FIELD_MANAGER = "dockyard"
REQUEST_TIMEOUT_SECONDS = 10.0

# What the runtime does in its namespace, as (API group, resource, verbs), checked at start;
# the namespaced Role of deploy/kubernetes grants these.
NEEDED: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("apps", "deployments", ("get", "list", "watch", "create", "patch", "delete")),
    ("", "services", ("get", "list", "watch", "create", "patch", "delete")),
    ("", "secrets", ("get", "create", "patch", "delete")),
    ("batch", "jobs", ("get", "list", "watch", "create", "delete")),
    ("", "pods", ("get", "list", "watch", "patch")),
    ("", "pods/log", ("get",)),
    ("", "events", ("list", "watch")),
    (
        "autoscaling",
        "horizontalpodautoscalers",
        ("get", "list", "watch", "create", "patch", "delete"),
    ),
)
# Only with DOCKYARD_KUBERNETES_ROUTE=apiserver: invoke goes through the service proxy.
NEEDED_FOR_APISERVER_ROUTE = ("", "services/proxy", ("get", "create"))


@dataclass
class Connection:
    client: Client
    namespace: str
    server: str  # the API server's URL, for people
    in_cluster: bool
    config: SingleConfig


def connect(settings: Settings, environ: Mapping[str, str] | None = None) -> Connection:
    """A client for the cluster the settings name; a clear `RuntimePermanentError` if there
    is none to be had."""
    environ = os.environ if environ is None else environ
    try:
        kubeconfig, in_cluster = _kubeconfig(settings, environ)
        config = kubeconfig.get(settings.kubernetes_context if not in_cluster else None)
    except (ConfigError, OSError, KeyError, ValueError, TypeError) as exc:
        raise RuntimePermanentError(
            f"DOCKYARD_RUNTIME=kubernetes: no usable cluster configuration ({exc}); run Dockyard "
            "in a pod with a service account, or point KUBECONFIG at a kubeconfig file",
            code="runtime_unavailable",
        ) from None
    assert config is not None
    namespace = settings.kubernetes_namespace or (
        config.namespace if in_cluster else DEFAULT_NAMESPACE
    )
    client = Client(
        config,
        namespace=namespace,
        field_manager=FIELD_MANAGER,
        timeout=httpx2.Timeout(REQUEST_TIMEOUT_SECONDS),
    )
    return Connection(client, namespace, config.cluster.server, in_cluster, config)


def _kubeconfig(settings: Settings, environ: Mapping[str, str]) -> tuple[KubeConfig, bool]:
    account = Path(SERVICE_ACCOUNT)
    if environ.get("KUBERNETES_SERVICE_HOST") and (account / "token").exists():
        return KubeConfig.from_service_account(account), True
    path = environ.get("KUBECONFIG") or str(Path("~/.kube/config").expanduser())
    # A KUBECONFIG listing several files: the first is where kubectl writes, use that one.
    return KubeConfig.from_file(path.split(os.pathsep)[0]), False


def check(connection: Connection, route: KubernetesRoute) -> None:
    """Fail at start, in words, when the cluster cannot be used: the API server does not
    answer, the namespace does not exist, or Dockyard's Role lacks a verb it needs."""
    _check_namespace(connection)
    needed = list(NEEDED)
    if route == KubernetesRoute.APISERVER:
        needed.append(NEEDED_FOR_APISERVER_ROUTE)
    missing = [
        f"{verb} {resource}"
        for group, resource, verbs in needed
        for verb in verbs
        if not _allowed(connection, group, resource, verb)
    ]
    if missing:
        raise RuntimePermanentError(
            f"DOCKYARD_RUNTIME=kubernetes: Dockyard may not {', '.join(missing)} in namespace "
            f"{connection.namespace!r} on {connection.server}; grant them in its Role "
            "(deploy/kubernetes/role.yaml lists every verb it needs)",
            code="runtime_forbidden",
        )


def _check_namespace(connection: Connection) -> None:
    # A dry-run create of a Secret answers both questions with a verb Dockyard needs anyway
    # (reading a Namespace object would need a cluster-wide grant): 404 names the namespace.
    probe = Secret(metadata=ObjectMeta(name="dockyard-start-check"), type="Opaque")
    try:
        connection.client.create(probe, namespace=connection.namespace, dry_run=True)
    except ApiError as exc:
        code = exc.status.code
        if code == 404:
            raise RuntimePermanentError(
                f"DOCKYARD_RUNTIME=kubernetes: namespace {connection.namespace!r} does not exist "
                f"on {connection.server}; create it (kubectl create namespace "
                f"{connection.namespace}) or set DOCKYARD_KUBERNETES_NAMESPACE",
                code="runtime_unavailable",
            ) from None
        if code == 401:
            raise RuntimePermanentError(
                f"DOCKYARD_RUNTIME=kubernetes: the API server at {connection.server} refused "
                f"Dockyard's credentials ({exc.status.message})",
                code="runtime_forbidden",
            ) from None
        if code not in (403, 409):  # 403: named by the verb checks; 409: it exists, fine
            raise RuntimePermanentError(
                f"DOCKYARD_RUNTIME=kubernetes: the API server at {connection.server} answered "
                f"{code} ({exc.status.message})",
                code="runtime_unavailable",
            ) from None
    except httpx2.HTTPError as exc:
        raise RuntimePermanentError(
            f"DOCKYARD_RUNTIME=kubernetes: cannot reach the Kubernetes API server at "
            f"{connection.server} ({exc})",
            code="runtime_unavailable",
        ) from None


def _allowed(connection: Connection, group: str, resource: str, verb: str) -> bool:
    name, _, sub = resource.partition("/")
    review = SelfSubjectAccessReview(
        spec=SelfSubjectAccessReviewSpec(
            resourceAttributes=ResourceAttributes(
                namespace=connection.namespace,
                group=group,
                resource=name,
                subresource=sub or None,
                verb=verb,
            )
        )
    )
    try:
        answer = connection.client.create(review)
    except (ApiError, httpx2.HTTPError):
        # Reviews are open to every signed-in user on a real cluster; a server that refuses
        # them leaves the verbs to be found out by use, where errors name them too.
        return True
    return bool(answer.status is not None and answer.status.allowed)
