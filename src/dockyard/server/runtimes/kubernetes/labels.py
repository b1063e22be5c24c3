"""The labels and annotations on everything Dockyard creates on a cluster, and the selectors
that find it again.

They carry the docker runtime's labels in Kubernetes' syntax: the installation (garbage
collection and adoption touch only objects with this installation's label), the workload, the
proton and the container group. Label values must be short and plain, so a group name that is
not is folded (`label_value`) and its exact text kept in an annotation.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping

from dockyard.server.runtimes.base import GroupSpec, ProtonSpec
from dockyard.server.runtimes.kubernetes.names import container_name

MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "dockyard"
LABEL_INSTANCE = "dockyard.io/instance"
LABEL_WORKLOAD = "dockyard.io/workload"
LABEL_PROTON = "dockyard.io/proton"
LABEL_GROUP = "dockyard.io/group"
# The group's name as the spec spells it (its label may be folded).
ANNOTATION_GROUP = "dockyard.io/group-name"
# JSON object: container name in the pod → container name in the spec.
ANNOTATION_CONTAINERS = "dockyard.io/containers"
# On the primary's Service and pod template: the container port invoke traffic goes to.
ANNOTATION_PORT = "dockyard.io/port"
# On a group's objects and pods: the primary container's name in the pod (whose exit ends a
# task, and a service that was never ready).
ANNOTATION_PRIMARY = "dockyard.io/primary"

_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?")
_NOT_VALUE = re.compile(r"[^-A-Za-z0-9_.]+")
_MAX_VALUE = 63


def label_value(text: str) -> str:
    """`label_value(text) -> str`: `text` when it is a valid label value, else a folded form
    ending in a hash of `text` (stable, and distinct for distinct texts)."""
    if len(text) <= _MAX_VALUE and _VALUE.fullmatch(text):
        return text
    tail = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    folded = _NOT_VALUE.sub("-", text)[: _MAX_VALUE - len(tail) - 1]
    folded = re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", folded)
    return f"{folded}-{tail}" if folded else tail


def proton_labels(spec: ProtonSpec) -> dict[str, str]:
    """`proton_labels(spec) -> dict`: the labels of every object of the proton."""
    return {
        MANAGED_BY: MANAGER,
        LABEL_INSTANCE: label_value(spec.instance_id),
        LABEL_WORKLOAD: label_value(spec.workload_id),
        LABEL_PROTON: label_value(spec.proton_id),
    }


def group_labels(spec: ProtonSpec, group: GroupSpec) -> dict[str, str]:
    """`group_labels(spec, group) -> dict`: the labels of a group's objects and pods; the
    Deployment's and the Service's selector is `group_selector` (a subset of these)."""
    return {**proton_labels(spec), LABEL_GROUP: label_value(group.name)}


def group_selector(spec: ProtonSpec, group: GroupSpec) -> dict[str, str]:
    """`group_selector(spec, group) -> dict`: matchLabels picking the group's pods (and no
    other installation's, workload's or proton's)."""
    return {
        LABEL_INSTANCE: label_value(spec.instance_id),
        LABEL_PROTON: label_value(spec.proton_id),
        LABEL_GROUP: label_value(group.name),
    }


def group_annotations(group: GroupSpec) -> dict[str, str]:
    """`group_annotations(group) -> dict`: the exact names a folded label or container name
    stands for, so pods read back to the spec's group and containers without the spec."""
    members = {container_name(c.name): c.name for c in group.containers}
    notes = {
        ANNOTATION_GROUP: group.name,
        ANNOTATION_CONTAINERS: json.dumps(members, separators=(",", ":"), sort_keys=True),
        ANNOTATION_PRIMARY: container_name(group.primary.name),
    }
    if group.primary.port is not None:
        notes[ANNOTATION_PORT] = str(group.primary.port)
    return notes


def installation_selector(instance_id: str) -> str:
    """`installation_selector(instance_id) -> str`: the label selector (as the API's
    `labelSelector` parameter takes it) of everything this installation created; what the
    runtime watches, adopts and garbage-collects by."""
    return selector({MANAGED_BY: MANAGER, LABEL_INSTANCE: label_value(instance_id)})


def proton_selector(instance_id: str, proton_id: str) -> str:
    """`proton_selector(instance_id, proton_id) -> str`: the label selector of one proton's
    objects and pods."""
    return selector(
        {
            MANAGED_BY: MANAGER,
            LABEL_INSTANCE: label_value(instance_id),
            LABEL_PROTON: label_value(proton_id),
        }
    )


def selector(labels: Mapping[str, str]) -> str:
    """`selector(labels) -> str`: equality-based `labelSelector` text for `labels`."""
    return ",".join(f"{key}={value}" for key, value in labels.items())
