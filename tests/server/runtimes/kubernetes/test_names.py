"""Names, labels and selectors of Dockyard's Kubernetes objects: valid, stable, distinct."""

from __future__ import annotations

import json
import re

from hypothesis import given
from hypothesis import strategies as st

from dockyard.server.runtimes.kubernetes import objects
from dockyard.server.runtimes.kubernetes.labels import (
    ANNOTATION_CONTAINERS,
    ANNOTATION_GROUP,
    installation_selector,
    label_value,
    proton_selector,
)
from dockyard.server.runtimes.kubernetes.names import (
    container_name,
    dns_label,
    object_name,
    secret_key,
    secret_name,
)
from tests.server.runtimes.kubernetes import samples
from tests.server.runtimes.kubernetes.samples import SAMPLES

# What the API server checks (apimachinery's validation): DNS-1035 for Services (a letter
# first), DNS-1123 labels for container names, label values, Secret keys.
DNS_1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
DNS_1123 = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
SECRET_KEY = re.compile(r"[-._a-zA-Z0-9]+")
# A spec's group and container names (core/spec.py's OBJECT_NAME), and 24-hex ids.
SPEC_NAMES = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}", fullmatch=True)
IDS = st.from_regex(r"[0-9a-f]{24}", fullmatch=True)
ANY_TEXT = st.text(min_size=1, max_size=300)


def is_name(text: str) -> bool:
    return len(text) <= 63 and DNS_1035.fullmatch(text) is not None


@given(proton_id=IDS | ANY_TEXT, group=SPEC_NAMES | ANY_TEXT)
def test_object_names_are_valid_for_any_input(proton_id: str, group: str) -> None:
    assert is_name(object_name(proton_id, group))
    assert is_name(secret_name(proton_id))


@given(name=SPEC_NAMES | ANY_TEXT)
def test_container_names_and_label_values_are_valid_for_any_input(name: str) -> None:
    assert len(container_name(name)) <= 63 and DNS_1123.fullmatch(container_name(name))
    assert len(label_value(name)) <= 63 and LABEL_VALUE.fullmatch(label_value(name))


@given(
    group=SPEC_NAMES, container=SPEC_NAMES, variable=st.from_regex(r"[A-Za-z_]\w*", fullmatch=True)
)
def test_secret_keys_are_valid(group: str, container: str, variable: str) -> None:
    key = secret_key(group, container, variable)
    assert len(key) <= 253 and SECRET_KEY.fullmatch(key)


def test_names_are_stable_and_read_plainly() -> None:
    proton_id = "66f1c2d0a1b2c3d4e5f6071a"
    # Pinned: objects a running installation created must be found by the same names later.
    assert object_name(proton_id, "default") == "dockyard-66f1c2d0a1b2c3d4e5f6071a-default"
    assert secret_name(proton_id) == "dockyard-66f1c2d0a1b2c3d4e5f6071a-credentials"
    assert (
        object_name(proton_id, "My_Group") == "dockyard-66f1c2d0a1b2c3d4e5f6071a-my-group-5af18b17"
    )
    assert container_name("primary") == "primary"
    assert container_name("Web.v2") == "web-v2-ab2cd477"
    assert dns_label("x" * 70) == "x" * 54 + "-" + dns_label("x" * 70)[-8:]


def test_ids_that_start_with_a_digit_get_a_name_that_starts_with_a_letter() -> None:
    name = object_name("0123456789abcdef01234567", "0group")
    assert name == "dockyard-0123456789abcdef01234567-0group" and is_name(name)


def test_names_that_fold_alike_stay_distinct() -> None:
    proton_id = "66f1c2d0a1b2c3d4e5f6071a"
    groups = ["web", "Web", "WEB", "w.eb", "w_eb", "w-eb", "web-", "x" * 63, "x" * 62 + "y"]
    assert len({object_name(proton_id, g) for g in groups}) == len(groups)
    assert len({container_name(g) for g in groups}) == len(groups)
    assert len({label_value(g) for g in groups}) == len(groups)
    long_ids = ["p" * 60 + "1", "p" * 60 + "2"]
    assert object_name(long_ids[0], "default") != object_name(long_ids[1], "default")
    # A `-` in an id would make `a-b` + `c` read like `a` + `b-c`: such ids are hashed.
    assert object_name("a-b", "c") != object_name("a", "b-c")


def test_secret_keys_read_back_and_never_collide() -> None:
    assert secret_key("default", "primary", "TOKEN") == "default.primary.TOKEN"
    # Dots in names would make `a.b` + `c` and `a` + `b.c` the same key: those are hashed.
    assert secret_key("a.b", "c", "X") != secret_key("a", "b.c", "X")


def test_labels_that_are_valid_are_kept_as_they_are() -> None:
    for value in ("66f1c2d0a1b2c3d4e5f6071a", "default", "Group_Of.Things-2", "0"):
        assert label_value(value) == value
    assert label_value("ends-with-") != "ends-with-"
    assert LABEL_VALUE.fullmatch(label_value("-_-"))


def test_folded_names_are_kept_exactly_in_annotations() -> None:
    spec = samples.long_names()
    group = spec.groups[0]
    metadata = objects.deployment(spec, group.name, namespace="n")["spec"]["template"]["metadata"]
    assert metadata["annotations"][ANNOTATION_GROUP] == group.name
    members = json.loads(metadata["annotations"][ANNOTATION_CONTAINERS])
    assert sorted(members.values()) == sorted(c.name for c in group.containers)
    pod = objects.deployment(spec, group.name, namespace="n")["spec"]["template"]["spec"]
    assert sorted(members) == sorted(c["name"] for c in pod["containers"])


def test_every_sample_gets_valid_names() -> None:
    for sample in SAMPLES.values():
        spec = sample()
        for manifest in objects.service_objects(spec, namespace="n"):
            assert is_name(manifest["metadata"]["name"])
            for value in manifest["metadata"]["labels"].values():
                assert len(value) <= 63 and LABEL_VALUE.fullmatch(value)


def test_selectors() -> None:
    assert installation_selector("inst1") == (
        "app.kubernetes.io/managed-by=dockyard,dockyard.io/instance=inst1"
    )
    assert proton_selector("inst1", "p1") == (
        "app.kubernetes.io/managed-by=dockyard,dockyard.io/instance=inst1,dockyard.io/proton=p1"
    )
    # What the selectors name is what every object of the proton carries.
    spec = samples.long_names()
    wanted = dict(
        part.split("=") for part in proton_selector(spec.instance_id, spec.proton_id).split(",")
    )
    for manifest in objects.service_objects(spec, namespace="n"):
        assert wanted.items() <= manifest["metadata"]["labels"].items()
