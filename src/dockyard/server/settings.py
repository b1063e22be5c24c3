"""Every setting of the server, read from `DOCKYARD_*` environment variables."""

from __future__ import annotations

import base64
import binascii
import ipaddress
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class RuntimeName(StrEnum):
    AUTO = "auto"
    DOCKER = "docker"
    PROCESS = "process"
    KUBERNETES = "kubernetes"
    FAKE = "fake"


class KubernetesRoute(StrEnum):
    PODS = "pods"  # straight to ready pod IPs: Dockyard runs in the cluster
    APISERVER = "apiserver"  # through the API server's service proxy: Dockyard runs outside


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOCKYARD_", extra="ignore")

    # --- storage -------------------------------------------------------------------------
    home: Path = Field(
        default=Path("~/.dockyard"),
        description="Data directory: SQLite database, admin token, secret key, runtime files.",
    )
    database_url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL; PostgreSQL as postgresql+psycopg://…. Default: SQLite in home."
        ),
    )

    # --- auth ----------------------------------------------------------------------------
    admin_token: str | None = Field(
        default=None,
        description="Token of the bootstrap admin user; generated and written to home when unset.",
    )
    secret_key: str | None = Field(
        default=None,
        description=(
            "Key (urlsafe base64, 32 bytes) encrypting credentials; kept in home when unset."
        ),
    )
    token_cache_seconds: float = Field(
        default=1.0,
        ge=0,
        le=1.0,
        description="How long a verified token is trusted without a database look-up.",
    )

    worker_threads: int = Field(
        default=8,
        ge=2,
        le=512,
        description="Threads that run requests' database work (half for writes, half for "
        "reads); the connection pool holds one connection per thread, plus four for "
        "background work. On PostgreSQL, each server takes that many connections at most. "
        "More threads let more writes run at once and compete for the interpreter with reads.",
    )

    # --- HTTP ----------------------------------------------------------------------------
    host: str = Field(default="127.0.0.1", description="Interface `dockyard serve` binds.")
    port: int = Field(default=8700, ge=1, le=65535, description="Port `dockyard serve` binds.")
    public_url: str | None = Field(
        default=None,
        description="Root URL clients use to reach this server; absolute URLs are built from it.",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Largest request body of an API or web UI route (413 past it). Invoke "
        "bodies stream through to the workload and are not limited.",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Addresses or CIDR networks of reverse proxies in front of Dockyard, "
        "comma-separated: only their X-Forwarded-For/-Proto/-Host are believed (and passed on "
        "by invoke); anyone else's are replaced. Empty: nobody's.",
    )

    # --- artifacts -----------------------------------------------------------------------
    image_allowlist: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Globs an image URI must match (empty: any image is allowed).",
    )
    image_denylist: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Globs an image URI must not match (deny wins)."
    )

    # --- workloads -----------------------------------------------------------------------
    runtime: RuntimeName = Field(
        default=RuntimeName.AUTO,
        description="Where workloads run: auto, docker, process or kubernetes.",
    )
    process_runtime_open: bool = Field(
        default=False,
        description="Let every user, not only admins, run workloads on the process runtime. "
        "Its replicas run as the server's own user, so this isolates nothing: only for a "
        "single-user machine.",
    )
    kubernetes_context: str | None = Field(
        default=None,
        description="Kubernetes runtime: the kubeconfig context to use (default: its current "
        "one). Ignored in a pod, where the service account is used.",
    )
    kubernetes_namespace: str | None = Field(
        default=None,
        description="Kubernetes runtime: the namespace workloads run in (default: Dockyard's "
        "own pod's namespace in a cluster, else dockyard-workloads). It must exist.",
    )
    kubernetes_route: KubernetesRoute = Field(
        default=KubernetesRoute.PODS,
        description="Kubernetes runtime: how invoke traffic reaches pods: pods (to ready pod "
        "IPs, for Dockyard in the cluster) or apiserver (through the API server's service "
        "proxy, for Dockyard outside it; slower).",
    )
    draft_ttl_seconds: int = Field(
        default=8 * 3600, ge=1, description="Life of a workload on a draft artifact."
    )
    restart_backoff_seconds: float = Field(
        default=10.0, gt=0, description="Wait before the second restart of a failing replica."
    )
    restart_backoff_max_seconds: float = Field(
        default=300.0, gt=0, description="The restart back-off doubles up to this."
    )
    restart_limit: int = Field(
        default=5, ge=1, description="Restarts in a row without becoming ready before errored."
    )
    ready_timeout_seconds: float = Field(
        default=300.0,
        gt=0,
        description="A replica with no startup probe that is never ready this long after a "
        "start is restarted as failed (so a port never opened ends errored, not launching).",
    )
    reconcile_sweep_seconds: float = Field(
        default=5.0, gt=0, description="How often every workload is looked at without a nudge."
    )
    reconcile_workers: int = Field(
        default=8,
        ge=1,
        le=64,
        description="Reconcile passes of different workloads that run at once: with more than "
        "one, a workload whose containers are being created does not hold up the others (a "
        "burst of tasks starts together). Each takes a database connection while it reads or "
        "writes, on top of worker_threads'.",
    )

    # --- tasks ---------------------------------------------------------------------------
    task_max_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="Longest run of a task: past it, the task is killed and failed "
        "(statusDetails.reason deadline_exceeded).",
    )
    max_running_tasks: int = Field(
        default=50, ge=1, description="Tasks running at once; more wait in `submitted`."
    )
    task_pids_limit: int = Field(
        default=512,
        ge=16,
        description="Processes a task's container may hold at once (docker runtime): a fork "
        "bomb stops there.",
    )
    log_max_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=4096,
        description="Output kept per container of a replica; past it the oldest is dropped.",
    )

    # --- autoscaling -------------------------------------------------------------------
    max_replicas: int = Field(
        default=0,
        ge=0,
        description="Most replicas any container group may ask for (replicaCount or "
        "maxReplicaCount); 403 past it. 0: no cap.",
    )
    scale_interval_seconds: float = Field(
        default=1.0, gt=0, description="How often the autoscaler looks at a scaled workload."
    )
    scale_down_stabilization_seconds: float = Field(
        default=300.0,
        ge=0,
        description="A group scales down only to the highest count the autoscaler asked for "
        "over this window (up is at once), so a short lull removes nothing.",
    )
    scale_to_zero_idle_seconds: float = Field(
        default=300.0,
        gt=0,
        description="A group with minReplicaCount 0 and no invoke request for this long goes "
        "to zero replicas (stopped; the next request starts one again).",
    )
    drain_seconds: float = Field(
        default=30.0,
        ge=0,
        description="A replica being scaled away gets no new requests and is stopped once its "
        "requests in flight end, or after this long at most.",
    )
    cold_start_timeout_seconds: float = Field(
        default=120.0,
        gt=0,
        description="Longest a request to a group scaled to zero is held while a replica "
        "starts (X-Scale-Up-Timeout may ask for less).",
    )
    cold_start_queue: int = Field(
        default=1000,
        ge=1,
        description="Requests held for a waking workload at most; past it 503 "
        "cold_start_queue_full.",
    )
    load_report_seconds: float = Field(
        default=0.5,
        gt=0,
        description="How often each server writes the invoke requests it has in flight per "
        "replica to the database, where the autoscaler sums every server's.",
    )

    # --- invoke proxy and statistics -----------------------------------------------------
    proxy_timeout_seconds: float = Field(
        default=60.0, gt=0, description="Longest wait for an upstream's response headers (504)."
    )
    proxy_connect_timeout_seconds: float = Field(
        default=5.0, gt=0, description="Longest wait to connect to a replica (502 after it)."
    )
    proxy_max_connections: int = Field(
        default=512, ge=1, description="Upstream connections the proxy keeps open at most."
    )
    proxy_max_header_bytes: int = Field(
        default=32768, ge=1024, description="Request and upstream response headers above: 431/502."
    )
    proxy_client_idle_seconds: float = Field(
        default=30.0,
        gt=0,
        description="A client sending its request body may pause this long between chunks.",
    )
    proxy_route_refresh_seconds: float = Field(
        default=0.5, gt=0, description="How often the routing table is re-read from the database."
    )
    stats_flush_seconds: float = Field(
        default=2.0, gt=0, description="How often request statistics are written to the database."
    )
    metrics_public: bool = Field(
        default=False, description="Serve /metrics without an admin token."
    )

    @field_validator("image_allowlist", "image_denylist", mode="before")
    @classmethod
    def _split_globs(cls, value: object) -> object:
        # A plain comma-separated variable is friendlier than JSON for a list of globs.
        if isinstance(value, str) and not value.lstrip().startswith("["):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_addresses(cls, value: object) -> object:
        if isinstance(value, str) and not value.lstrip().startswith("["):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies", mode="after")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or CIDR network") from None
        return value

    @field_validator("secret_key", mode="after")
    @classmethod
    def _fernet_key(cls, value: str | None) -> str | None:
        # Refused here, with how to make one, rather than as a traceback when the key is used.
        if value is None:
            return value
        try:
            raw = base64.urlsafe_b64decode(value.encode("ascii"))
        except (binascii.Error, UnicodeEncodeError):
            raw = b""
        if len(raw) != 32:
            raise ValueError(
                "must be 32 random bytes in urlsafe base64; make one with: python3 -c 'import "
                "base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())'"
            )
        return value

    @field_validator("home", mode="after")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()

    @cached_property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'dockyard.db'}"
