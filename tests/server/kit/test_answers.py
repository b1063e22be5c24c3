"""A question a lower package asks of a higher one: answered once the server is assembled,
and an error (never a silent default) before."""

from __future__ import annotations

import pytest

from dockyard.server.app import answer_lower_packages
from dockyard.server.artifacts import usage as artifact_usage
from dockyard.server.deployments.workload_users import DeploymentsServeWorkloads
from dockyard.server.kit.answers import Answer
from dockyard.server.workloads import usage as workload_usage
from dockyard.server.workloads.artifact_users import WorkloadsRunArtifacts


def test_asking_before_an_answer_is_given_fails() -> None:
    question: Answer[str] = Answer("what runs a thing")
    with pytest.raises(RuntimeError, match="nothing answers 'what runs a thing'"):
        question.get()
    question.give("a workload")
    assert question.get() == "a workload"


def test_the_assembly_answers_every_question_of_the_lower_packages() -> None:
    answer_lower_packages()
    assert isinstance(artifact_usage.USERS.get(), WorkloadsRunArtifacts)
    assert isinstance(workload_usage.USERS.get(), DeploymentsServeWorkloads)
