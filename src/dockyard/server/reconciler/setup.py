"""Builds the reconciler of a server: its runtime, probe runner, clock and secret lookups."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dockyard.server.autoscaling.rule import ScaleWindows
from dockyard.server.credentials.crypto import SecretBox
from dockyard.server.credentials.service import resolve_secret
from dockyard.server.db.session import Database
from dockyard.server.kit.clock import utcnow
from dockyard.server.reconciler.context import PassContext
from dockyard.server.reconciler.decide import RestartPolicy
from dockyard.server.reconciler.loop import Reconciler
from dockyard.server.reconciler.prober import Prober, RuntimeProber
from dockyard.server.reconciler.scaling import ScalingPolicy
from dockyard.server.reconciler.tasks import TaskPolicy
from dockyard.server.runtimes.base import Runtime, RuntimeAnswersProbes
from dockyard.server.runtimes.proton_spec import SecretLookup
from dockyard.server.settings import Settings
from dockyard.server.workloads.repository import runner_of

PASS_GRID_SECONDS = 0.2  # see PassContext.pass_grid


def build_reconciler(
    *,
    db: Database,
    runtime: Runtime,
    settings: Settings,
    instance_id: str,
    server_id: str,
    secret_box: SecretBox,
) -> Reconciler:
    def secrets(workload_id: str) -> SecretLookup:
        # Secrets come only from credentials the workload's creator may use, whoever wrote
        # the spec it runs.
        def lookup(credential_id: str, key: str) -> str | None:
            with db.unit_of_work(write=False) as session:
                runner = runner_of(session, workload_id)
                user_id, is_admin = runner if runner is not None else (None, False)
                return resolve_secret(
                    session, secret_box, credential_id, key, user_id=user_id, is_admin=is_admin
                )

        return lookup

    def platform_env(workload_id: str) -> dict[str, str]:
        env = {"WORKLOAD_ID": workload_id}
        if settings.public_url:
            env["DOCKYARD_ENDPOINT"] = settings.public_url.rstrip("/") + "/api/v2"
        return env

    context = PassContext(
        db=db,
        runtime=runtime,
        instance_id=instance_id,
        server_id=server_id,
        policy=RestartPolicy(
            backoff_seconds=settings.restart_backoff_seconds,
            backoff_max_seconds=settings.restart_backoff_max_seconds,
            limit=settings.restart_limit,
            ready_timeout_seconds=settings.ready_timeout_seconds,
        ),
        prober=_prober_for(runtime),
        clock=utcnow,
        secrets=secrets,
        platform_env=platform_env,
        sweep_seconds=settings.reconcile_sweep_seconds,
        task_policy=TaskPolicy(
            max_seconds=settings.task_max_seconds, max_running=settings.max_running_tasks
        ),
        pass_grid=PASS_GRID_SECONDS,
        workers=settings.reconcile_workers if runtime.concurrent_passes else 1,
        scaling=ScalingPolicy(
            windows=ScaleWindows(
                stabilization_seconds=settings.scale_down_stabilization_seconds,
                idle_seconds=settings.scale_to_zero_idle_seconds,
            ),
            interval_seconds=settings.scale_interval_seconds,
            drain_seconds=settings.drain_seconds,
            # Every server's routing table drops a draining replica within a refresh, and
            # reports what it still has in flight within a report.
            settle_seconds=settings.proxy_route_refresh_seconds + 2 * settings.load_report_seconds,
            load_fresh_seconds=3 * settings.load_report_seconds + 1.0,
        ),
    )
    return Reconciler(context)


def _prober_for(runtime: Runtime) -> Prober:
    # The in-memory test runtime answers probes itself; every real runtime is probed over HTTP.
    return RuntimeProber(runtime) if isinstance(runtime, RuntimeAnswersProbes) else Prober()


@contextmanager
def running(reconciler: Reconciler) -> Iterator[Reconciler]:
    reconciler.start()
    try:
        yield reconciler
    finally:
        reconciler.stop()
