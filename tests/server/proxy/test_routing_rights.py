"""The rights the routing table works out for deployments, from the rows it reads."""

from __future__ import annotations

from typing import Any

from dockyard.server.proxy.routing import Alias, build_rows
from dockyard.server.sharing.roles import Right

WORKLOAD, NEXT, DEPLOYMENT = "w" * 24, "n" * 24, "d" * 24


def _alias(grants: list[tuple[str, str, str]], admins: tuple[str, ...] = ()) -> Alias:
    # id, status, desired state, errored reason, proton, task, its scale, its runtime when
    # scaled, replica group, index, host, port, ready, draining since
    workloads: list[Any] = [
        (
            WORKLOAD,
            "running",
            "running",
            None,
            None,
            False,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
        )
    ]
    deployments: list[Any] = [(DEPLOYMENT, WORKLOAD, NEXT)]
    _, aliases = build_rows((workloads, deployments, grants, [(a,) for a in admins]))
    return aliases[0]


def test_the_workloads_owners_own_the_deployment() -> None:
    alias = _alias(
        [
            (WORKLOAD, "owner", "OWNER"),
            (WORKLOAD, "editor", "EDITOR"),
            (NEXT, "next-owner", "OWNER"),
            (DEPLOYMENT, "editor", "OWNER"),
            (DEPLOYMENT, "consumer", "CONSUMER"),
        ]
    )
    assert alias.grants == {
        "owner": Right.OWN,
        "next-owner": Right.OWN,
        "editor": Right.OWN,
        "consumer": Right.INVOKE,
    }
    assert alias.serving


def test_a_deployment_serves_while_one_of_its_own_owners_may_update_the_workload() -> None:
    demoted = [
        (WORKLOAD, "owner", "OWNER"),
        (WORKLOAD, "editor", "READ_ONLY"),
        (DEPLOYMENT, "editor", "OWNER"),
    ]
    # The workload's owner owns the deployment only through the workload: that does not
    # keep it serving, or no deployment would ever stop.
    assert not _alias(demoted).serving
    assert _alias([*demoted, (DEPLOYMENT, "owner", "OWNER")]).serving
    assert _alias([*demoted, (DEPLOYMENT, "admin", "OWNER")], admins=("admin",)).serving
    assert not _alias([*demoted, (DEPLOYMENT, "other", "EDITOR")]).serving
