"""The artifact spec: shape, defaults filled on write, and the rules of a write."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from dockyard.core.errors import Forbidden, RuleViolation
from dockyard.core.spec import (
    Container,
    ServiceArtifactSpec,
    check_spec_rules,
    credential_references,
    parse_stored,
    spec_to_json,
)
from dockyard.core.unknown_fields import drop_unknown_fields


def container(**fields: Any) -> dict[str, Any]:
    return {"imageUri": "python:3.12", **fields}


def spec_of(*containers: dict[str, Any], **group: Any) -> dict[str, Any]:
    return {"containerGroups": [{"containers": list(containers), **group}]}


def primary(**fields: Any) -> dict[str, Any]:
    return container(**{"primary": True, "port": 8000, **fields})


def errors_of(data: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    with pytest.raises(ValidationError) as caught:
        ServiceArtifactSpec.model_validate(data)
    return [(tuple(error["loc"]), error["msg"]) for error in caught.value.errors()]


def locs_of(data: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [loc for loc, _ in errors_of(data)]


def test_a_minimal_spec_gets_its_defaults_filled_in() -> None:
    spec = ServiceArtifactSpec.model_validate(
        spec_of(
            primary(readinessProbe={"path": "/ready"}),
            container(livenessProbe={"path": "/", "port": 9000}),
        )
    )
    data = spec_to_json(spec)
    group = data["containerGroups"][0]
    assert data["type"] == "service"
    assert group["name"] == "default"
    first, second = group["containers"]
    assert first["name"] == "primary"
    assert second["name"] == "sidecar-1"
    assert first["readinessProbe"] == {
        "path": "/ready",
        "port": 8000,
        "scheme": "HTTP",
        "initialDelaySeconds": 30,
        "periodSeconds": 30,
        "timeoutSeconds": 30,
        "failureThreshold": 3,
    }
    assert second["livenessProbe"]["port"] == 9000
    assert "port" not in second  # unset optional fields are left out, not null
    # Filling is idempotent: the stored form reads back the same.
    assert spec_to_json(ServiceArtifactSpec.model_validate(data)) == data


def test_sidecar_names_count_sidecars_only() -> None:
    spec = ServiceArtifactSpec.model_validate(
        spec_of(container(), container(name="logger"), primary(), container())
    )
    names = [c.name for c in spec.container_groups[0].containers]
    assert names == ["sidecar-1", "logger", "primary", "sidecar-3"]


def test_a_parsed_spec_answers_with_its_defaults() -> None:
    spec = ServiceArtifactSpec.model_validate(
        {
            "containerGroups": [
                {"containers": [container(), primary()]},
                {"name": "jobs", "containers": [primary(name="worker")]},
            ]
        }
    )
    default = spec.group("default")
    jobs = spec.group("jobs")
    assert default is not None and jobs is not None
    assert spec.group("missing") is None
    assert default.primary.filled_name == "primary"
    assert default.container_names() == {"primary", "sidecar-1"}
    assert jobs.primary.filled_name == "worker"
    with pytest.raises(ValueError, match="filled in"):
        _ = Container(image_uri="python:3.12").filled_name  # not parsed as part of a spec


def test_a_stored_spec_reads_as_typed_objects_unless_it_lacks_a_primary() -> None:
    stored = spec_to_json(ServiceArtifactSpec.model_validate(spec_of(primary())))
    read = parse_stored(stored)
    assert read is not None and read.container_groups[0].primary.filled_name == "primary"
    # A rule tightened since it was written does not hide it from readers.
    older = spec_to_json(ServiceArtifactSpec.model_validate(spec_of(primary())))
    older["containerGroups"][0]["containers"][0]["environmentVars"] = [
        {"name": "AB\n", "value": "x"}
    ]
    assert parse_stored(older) is not None
    # What readers rely on (one primary per group) missing: nothing to show.
    older["containerGroups"][0]["containers"][0]["primary"] = False
    assert parse_stored(older) is None


def test_groups_and_containers_are_required() -> None:
    assert locs_of({"containerGroups": []}) == [("containerGroups",)]
    assert locs_of({}) == [("containerGroups",)]
    assert locs_of(spec_of()) == [("containerGroups", 0, "containers")]


def test_group_names_are_unique() -> None:
    data = {"containerGroups": [{"containers": [primary()]}, {"containers": [primary()]}]}
    assert locs_of(data) == [("containerGroups", 1, "name")]


def test_exactly_one_primary_per_group() -> None:
    assert locs_of(spec_of(container())) == [("containerGroups", 0, "containers")]
    both = spec_of(primary(), primary(name="other"))
    assert locs_of(both) == [("containerGroups", 0, "containers", 1, "primary")]


def test_ports_belong_to_the_primary_only() -> None:
    assert locs_of(spec_of(primary(), container(port=9000))) == [
        ("containerGroups", 0, "containers", 1, "port")
    ]
    for port in (80, 1023, 65536):
        assert locs_of(spec_of(primary(port=port))) == [
            ("containerGroups", 0, "containers", 0, "port")
        ]


def test_container_names_are_unique_in_a_group() -> None:
    data = spec_of(primary(name="app"), container(name="app"))
    assert locs_of(data) == [("containerGroups", 0, "containers", 1, "name")]
    # A default name clashes too.
    assert locs_of(spec_of(primary(), container(name="primary"))) == [
        ("containerGroups", 0, "containers", 1, "name")
    ]


def test_unknown_fields_are_kept_until_dropped_and_then_named_with_their_path() -> None:
    spec = ServiceArtifactSpec.model_validate(
        spec_of(primary(imageUrl="x", readinessProbe={"path": "/", "grace": 1}))
    )
    assert drop_unknown_fields(spec) == [
        "containerGroups[0].containers[0].imageUrl",
        "containerGroups[0].containers[0].readinessProbe.grace",
    ]
    assert "imageUrl" not in spec_to_json(spec)["containerGroups"][0]["containers"][0]
    assert drop_unknown_fields(spec) == []


def test_probes_need_an_absolute_path_and_a_port_on_sidecars() -> None:
    assert locs_of(spec_of(primary(readinessProbe={"port": 8000}))) == [
        ("containerGroups", 0, "containers", 0, "readinessProbe", "path")
    ]
    assert locs_of(spec_of(primary(readinessProbe={"path": "health"}))) == [
        ("containerGroups", 0, "containers", 0, "readinessProbe", "path")
    ]
    assert locs_of(spec_of(primary(), container(startupProbe={"path": "/"}))) == [
        ("containerGroups", 0, "containers", 1, "startupProbe", "port")
    ]


def test_image_uri_must_be_an_oci_reference() -> None:
    for good in (
        "python",
        "python:3.12-slim",
        "docker.io/library/python:3.12",
        "localhost:5000/team/app:v1",
        "ghcr.io/org/app@sha256:" + "a" * 64,
        "registry.example.com:443/a/b/c:tag",
    ):
        ServiceArtifactSpec.model_validate(spec_of(primary(imageUri=good)))
    for bad in ("", "UPPER/case", "python:", "-bad", "a b", "http://x/y", "image:tag@sha256:12"):
        assert locs_of(spec_of(primary(imageUri=bad))) == [
            ("containerGroups", 0, "containers", 0, "imageUri")
        ], bad


def env(*variables: dict[str, Any]) -> dict[str, Any]:
    return spec_of(primary(environmentVars=list(variables)))


ENV = ("containerGroups", 0, "containers", 0, "environmentVars")


def test_environment_variable_names() -> None:
    ServiceArtifactSpec.model_validate(env({"name": "_OK_1", "value": "x"}))
    assert locs_of(env({"name": "1BAD", "value": "x"})) == [(*ENV, 0, "name")]
    assert locs_of(env({"name": "A-B", "value": "x"})) == [(*ENV, 0, "name")]
    assert locs_of(env({"name": "A", "value": "x"}, {"name": "A", "value": "y"})) == [
        (*ENV, 1, "name")
    ]
    for reserved in ("WORKLOAD_ID", "PORT", "DOCKYARD_ENDPOINT"):
        assert locs_of(env({"name": reserved, "value": "x"})) == [(*ENV, 0, "name")]


def test_environment_variable_sources_need_their_fields() -> None:
    assert locs_of(env({"name": "A"})) == [(*ENV, 0, "value")]
    assert locs_of(env({"name": "A", "value": 3})) == [(*ENV, 0, "value")]
    assert set(locs_of(env({"source": "dr-credential", "name": "A"}))) == {
        (*ENV, 0, "drCredentialId"),
        (*ENV, 0, "key"),
    }
    assert locs_of(
        env(
            {
                "source": "dr-credential",
                "name": "A",
                "value": "v",
                "drCredentialId": "c",
                "key": "k",
            }
        )
    ) == [(*ENV, 0, "value")]
    assert locs_of(env({"source": "vault", "name": "A"})) == [(*ENV, 0, "source")]


def test_every_problem_is_reported_at_once() -> None:
    data = spec_of(
        primary(name="a", environmentVars=[{"name": "PORT", "value": "1"}]),
        container(name="a", port=9000),
    )
    assert len(errors_of(data)) == 3


def test_a_primary_without_a_port_is_a_task_of_one_group_without_probes() -> None:
    task = ServiceArtifactSpec.model_validate(spec_of(container(primary=True)))
    assert task.is_task
    assert not ServiceArtifactSpec.model_validate(spec_of(primary())).is_task
    rules(spec_of(container(primary=True)))  # allowed as it is
    probed = spec_of(container(primary=True, readinessProbe={"path": "/", "port": 8080}))
    with pytest.raises(RuleViolation) as caught:
        rules(probed)
    assert caught.value.code == "probe_on_task"
    two = {
        "containerGroups": [
            {"name": "a", "containers": [container(primary=True)]},
            {"name": "b", "containers": [primary()]},
        ]
    }
    with pytest.raises(RuleViolation) as caught:
        rules(two)
    assert caught.value.code == "task_groups"


def test_credential_references_carry_their_path() -> None:
    spec = ServiceArtifactSpec.model_validate(
        env({"source": "dr-credential", "name": "A", "drCredentialId": "c1", "key": "password"})
    )
    assert credential_references(spec) == [(list(ENV) + [0], "c1", "password")]


def rules(
    data: dict[str, Any],
    *,
    admin: bool = False,
    allow: list[str] | None = None,
    deny: list[str] | None = None,
) -> None:
    check_spec_rules(
        ServiceArtifactSpec.model_validate(data),
        is_admin=admin,
        allowlist=allow or [],
        denylist=deny or [],
    )


def test_image_uri_is_required() -> None:
    data = spec_of({"primary": True, "port": 8000, "imageBuildConfig": {}})
    with pytest.raises(RuleViolation) as caught:
        rules(data)
    assert caught.value.code == "image_uri_required"


def test_image_allow_and_deny_lists() -> None:
    data = spec_of(primary(imageUri="python:3.12"))
    rules(data)
    rules(data, allow=["docker.io/library/*"])
    rules(data, allow=["python:*"])
    rules(data, allow=["DOCKER.IO/library/*"])  # host matching ignores case
    for allow, deny in ((["ghcr.io/*"], []), ([], ["docker.io/*"]), (["*"], ["*python*"])):
        with pytest.raises(RuleViolation) as caught:
            rules(data, allow=allow, deny=deny)
        assert caught.value.code == "image_not_allowed"


def test_api_key_variables_are_not_supported_yet() -> None:
    with pytest.raises(RuleViolation) as caught:
        rules(env({"source": "api-key"}))
    assert caught.value.code == "env_source_not_supported"


@pytest.mark.parametrize(
    "context",
    [
        {"capabilities": {"add": ["NET_ADMIN"]}},
        {"allowPrivilegeEscalation": True},
        {"seccompProfile": {"type": "Unconfined"}},
    ],
)
def test_only_admins_loosen_the_security_context(context: dict[str, Any]) -> None:
    data = spec_of(primary(securityContext=context))
    rules(data, admin=True)
    with pytest.raises(Forbidden) as caught:
        rules(data)
    assert caught.value.code == "security_context_forbidden"


def test_anyone_may_tighten_the_security_context() -> None:
    tight = {
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
        "runAsNonRoot": True,
    }
    rules(spec_of(primary(securityContext=tight)))


def test_build_info_sent_back_is_dropped_and_build_config_kept() -> None:
    spec = ServiceArtifactSpec.model_validate(
        spec_of(primary(build={"status": "COMPLETED"}, imageBuildConfig={"dockerfile": {}}))
    )
    out = spec_to_json(spec)["containerGroups"][0]["containers"][0]
    assert "build" not in out
    assert out["imageBuildConfig"] == {"dockerfile": {"source": "provided", "path": "./Dockerfile"}}
    assert locs_of(spec_of(primary(imageBuildConfig={"dockerfile": {"source": "generated"}}))) == [
        ("containerGroups", 0, "containers", 0, "imageBuildConfig", "dockerfile")
    ]
