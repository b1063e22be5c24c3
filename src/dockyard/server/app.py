"""The ASGI application: settings → database → migrations → bootstrap → routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI

from dockyard import __version__
from dockyard.server import data_dir
from dockyard.server.artifacts import usage as artifact_usage
from dockyard.server.credentials.crypto import SecretBox, derive_key, server_secret
from dockyard.server.db.migrate import startup_lock, upgrade
from dockyard.server.db.session import Database
from dockyard.server.deployments.audit import SEAL_PURPOSE
from dockyard.server.deployments.switching import advance_deployment_switches
from dockyard.server.deployments.workload_users import DeploymentsServeWorkloads
from dockyard.server.docs_ui import install_docs
from dockyard.server.health.router import router as health_router
from dockyard.server.installation import repository as installation
from dockyard.server.kit import access_log
from dockyard.server.kit.audit_seal import AuditSeal
from dockyard.server.kit.errors import install_error_handlers
from dockyard.server.kit.forwarded import TrustedProxies
from dockyard.server.kit.http import TrailingSlashMiddleware
from dockyard.server.kit.ignored_fields import IgnoredFieldsMiddleware
from dockyard.server.kit.intake import IntakeMiddleware
from dockyard.server.openapi import install_openapi
from dockyard.server.proxy.setup import DockyardAPI, install_proxy
from dockyard.server.reconciler.setup import build_reconciler
from dockyard.server.routes import API, install_routes
from dockyard.server.runtimes.base import Runtime
from dockyard.server.runtimes.select import choose_runtime, instance_id
from dockyard.server.sessions.verifier import SessionVerifier
from dockyard.server.settings import Settings
from dockyard.server.ui import install_ui
from dockyard.server.users.bootstrap import BootstrapResult, ensure_admin
from dockyard.server.users.tokens import TokenVerifier
from dockyard.server.workloads import usage as workload_usage
from dockyard.server.workloads.artifact_users import WorkloadsRunArtifacts

log = logging.getLogger("dockyard")

OPENAPI_URL = f"{API}/openapi.json"
OPENAPI_YAML_URL = f"{API}/openapi.yaml"  # the name the hosted platform serves it under


def create_app(
    settings: Settings | None = None,
    *,
    runtime: Runtime | None = None,
    run_reconciler: bool = True,
) -> FastAPI:
    """The whole server. Tests pass `run_reconciler=False` and drive passes themselves."""
    settings = settings or Settings()
    answer_lower_packages()
    data_dir.prepare(settings.home)
    with data_dir.private_umask():  # the database, the key, the token: the owner's alone
        secret = server_secret(settings)
        secret_box = SecretBox(secret)
        audit_key = derive_key(secret, SEAL_PURPOSE)
        db = Database.connect(
            settings.effective_database_url,
            worker_threads=settings.worker_threads,
            reconcile_workers=settings.reconcile_workers,
        )
        bootstrap = prepare_database(db, settings, audit_key=audit_key)
        audit_seal = AuditSeal(audit_key)
        if runtime is None:
            runtime, runtime_note = choose_runtime(settings)
        else:
            runtime_note = f"{runtime.name} runtime (given)"
        server_id = instance_id(settings.home)
    data_dir.private_sqlite(settings.effective_database_url)
    log.info("workloads run on the %s", runtime_note)
    reconciler = build_reconciler(
        db=db,
        runtime=runtime,
        settings=settings,
        instance_id=installation.instance_id(db, proposed=server_id),
        server_id=server_id,
        secret_box=secret_box,
    )

    # What the runtime sees change by itself (a watch event) is looked at at once.
    runtime.watch_changes(reconciler.notice)
    reconciler.add_periodic(
        partial(
            advance_deployment_switches,
            db,
            audit_seal,
            settings.public_url or _local_url(settings),
        )
    )

    @asynccontextmanager
    async def lifespan(started: FastAPI) -> AsyncIterator[None]:
        if run_reconciler:
            reconciler.start()
        await started.state.proxy.start()
        try:
            yield
        finally:
            await started.state.proxy.stop()
            if run_reconciler:
                reconciler.stop()
            runtime.close()
            db.dispose()

    app = DockyardAPI(  # FastAPI, with the invoke proxy's fast path in front
        lifespan=lifespan,
        title="Dockyard",
        version=__version__,
        summary="Self-hosted workload platform compatible with the Workload API.",
        openapi_url=OPENAPI_URL,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.bootstrap = bootstrap
    app.state.token_verifier = TokenVerifier(db, ttl=settings.token_cache_seconds)
    app.state.session_verifier = SessionVerifier(db, ttl=settings.token_cache_seconds)
    app.state.secret_box = secret_box
    app.state.trusted_proxies = TrustedProxies(settings.trusted_proxies)
    app.state.audit_seal = audit_seal
    app.state.runtime = runtime
    app.state.runtime_name = runtime.name
    app.state.runtime_note = runtime_note
    app.state.reconciler = reconciler
    app.state.reconciler_nudge = reconciler.nudge
    app.state.server_id = server_id

    install_error_handlers(app)
    app.include_router(health_router)
    install_routes(app)
    install_openapi(app, OPENAPI_YAML_URL)
    install_docs(app, OPENAPI_URL)
    install_ui(app)  # the web UI's pages at /registry/…, /console/…, /login
    access_log.install()  # sign-in codes and tokens stay out of uvicorn's access log
    app.add_middleware(TrailingSlashMiddleware)
    app.add_middleware(IgnoredFieldsMiddleware)
    # Outermost: a body past the limit is refused before anything else reads it.
    app.add_middleware(
        IntakeMiddleware,
        max_body_bytes=settings.max_body_bytes,
        write_turns=db.write_threads.count,
    )
    install_proxy(app)  # last: the invoke path runs before every other middleware
    # Traffic follows a reconcile pass at once instead of at the next routing-table refresh.
    reconciler.ctx.on_routes_changed.append(app.state.routes.poke)
    # A request held for an autoscaled workload at zero asks for a pass at once.
    app.state.proxy.wake = reconciler.nudge

    return app


def prepare_database(db: Database, settings: Settings, *, audit_key: bytes) -> BootstrapResult:
    """Migrate the database and make sure the admin user exists, one starting server at a time.

    Servers starting together (the replicas of a Kubernetes Deployment) wait for each other
    here; each one after the first finds the schema current and the admin user in place."""
    with startup_lock(db.engine):
        upgrade(db.engine, audit_key=audit_key)  # the key seals existing audit chains (0008)
        with db.unit_of_work() as session:
            return ensure_admin(session, settings)


def answer_lower_packages() -> None:
    """Give each package the answers it asks of a later one (docs/architecture.md, "Packages
    depend one way"): what runs an artifact, what serves a workload."""
    artifact_usage.USERS.give(WorkloadsRunArtifacts())
    workload_usage.USERS.give(DeploymentsServeWorkloads())


def _local_url(settings: Settings) -> str:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    return f"http://{host}:{settings.port}"


def admin_bootstrap(app: FastAPI) -> BootstrapResult:
    return app.state.bootstrap
