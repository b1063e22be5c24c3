"""The sealed audit chain: what someone who can write the database but lacks the key cannot hide.

Each test tampers the way such a person would: straight in the tables, recomputing every hash
the public algorithm defines, and then asks the API whether the chain still verifies.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from dockyard.server.app import create_app
from dockyard.server.credentials.crypto import derive_key
from dockyard.server.db.engine import make_engine
from dockyard.server.db.migrate import upgrade
from dockyard.server.deployments import audit
from dockyard.server.deployments.models import GENESIS, Deployment, DeploymentAuditEntry
from dockyard.server.settings import Settings
from tests.conftest import ADMIN_TOKEN, PG_URL, new_postgres_database, require_service
from tests.factories import create_user
from tests.server.deployments.test_deployments import API, _running_workload

ATTACKER_SEAL = audit.AuditSeal(b"k" * 32)  # a key that is not the server's


def _deployment_with_history(client: TestClient, updates: int = 3) -> str:
    workload = _running_workload(client)
    deployment = client.post(API, json={"workloadId": workload["id"]}).json()
    for number in range(updates):
        answer = client.patch(f"{API}/{deployment['id']}", json={"description": f"v{number}"})
        assert answer.status_code == 200, answer.text
    return deployment["id"]


def _log(client: TestClient, deployment_id: str) -> dict[str, Any]:
    answer = client.get(f"{API}/{deployment_id}/auditLog")
    assert answer.status_code == 200, answer.text
    return answer.json()


@contextmanager
def _tables(client: TestClient) -> Iterator[Session]:
    """Direct access to the database, committed at the end: the tamperer's tool."""
    with Session(client.app.state.db.engine, expire_on_commit=False) as session:
        yield session
        session.commit()


def _chain(session: Session, deployment_id: str) -> list[DeploymentAuditEntry]:
    return list(
        session.scalars(
            select(DeploymentAuditEntry)
            .where(DeploymentAuditEntry.deployment_id == deployment_id)
            .order_by(DeploymentAuditEntry.sequence)
        )
    )


def _rechain(session: Session, deployment_id: str, *, seal: audit.AuditSeal | None = None) -> None:
    """Renumber and rehash every entry as the public algorithm says, then move the head to the
    end. With a seal, also re-seal entries and head with it (the attacker's or the server's)."""
    previous, sequence = GENESIS, 0
    entries = _chain(session, deployment_id)
    for entry in entries:  # move sequences out of the way of the unique constraint first
        entry.sequence += 10_000
    session.flush()
    for entry in entries:
        sequence += 1
        entry.sequence, entry.prev_hash = sequence, previous
        entry.hash = audit.digest(audit.entry_body(entry))
        if seal is not None:
            entry.hmac = seal.entry(entry.hash)
        previous = entry.hash
    row = session.get(Deployment, deployment_id)
    assert row is not None
    row.audit_sequence, row.audit_hash = sequence, previous
    if seal is not None:
        row.audit_hmac = seal.head(deployment_id, sequence, previous)
    session.flush()


def test_every_entry_is_sealed_and_the_untouched_chain_verifies(client: TestClient) -> None:
    deployment_id = _deployment_with_history(client, updates=2)
    log = _log(client, deployment_id)
    assert log["verified"] is True
    seal = client.app.state.audit_seal
    assert [e["sequence"] for e in log["data"]] == [1, 2, 3]
    for entry in log["data"]:
        assert entry["hmac"] == seal.entry(entry["hash"])
    with _tables(client) as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        assert (row.audit_sequence, row.audit_hash) == (3, log["data"][-1]["hash"])


def test_removing_the_last_entry_is_detected(client: TestClient) -> None:
    deployment_id = _deployment_with_history(client)
    with _tables(client) as session:
        last = _chain(session, deployment_id)[-1]
        session.delete(last)
    assert _log(client, deployment_id)["verified"] is False


def test_truncating_and_moving_the_head_back_is_detected(client: TestClient) -> None:
    deployment_id = _deployment_with_history(client)
    with _tables(client) as session:
        entries = _chain(session, deployment_id)
        session.execute(
            delete(DeploymentAuditEntry).where(DeploymentAuditEntry.id == entries[-1].id)
        )
        row = session.get(Deployment, deployment_id)
        assert row is not None
        # The previous entry's head is consistent with what is left, but its seal is not.
        row.audit_sequence, row.audit_hash = entries[-2].sequence, entries[-2].hash
    assert _log(client, deployment_id)["verified"] is False


def test_rewriting_the_first_actor_and_recomputing_every_hash_is_detected(
    client: TestClient,
) -> None:
    deployment_id = _deployment_with_history(client)
    someone = create_user(client)
    with _tables(client) as session:
        _chain(session, deployment_id)[0].actor_id = someone["user"]["id"]
        _rechain(session, deployment_id)
    assert _log(client, deployment_id)["verified"] is False


def test_deleting_an_entry_in_the_middle_is_detected(client: TestClient) -> None:
    deployment_id = _deployment_with_history(client)
    with _tables(client) as session:
        session.delete(_chain(session, deployment_id)[1])
        session.flush()
        _rechain(session, deployment_id)  # a gap-free, correctly hashed, shorter chain
    assert _log(client, deployment_id)["verified"] is False


def test_seals_forged_with_another_key_are_detected(client: TestClient) -> None:
    deployment_id = _deployment_with_history(client)
    with _tables(client) as session:
        _chain(session, deployment_id)[0].action = "nothing happened"
        _rechain(session, deployment_id, seal=ATTACKER_SEAL)
    assert _log(client, deployment_id)["verified"] is False


def test_one_forged_entry_seal_is_detected(client: TestClient) -> None:
    deployment_id = _deployment_with_history(client)
    with _tables(client) as session:
        entry = _chain(session, deployment_id)[1]
        entry.hmac = ATTACKER_SEAL.entry(entry.hash)
    assert _log(client, deployment_id)["verified"] is False


def test_one_deployments_head_cannot_vouch_for_another(client: TestClient) -> None:
    first = _deployment_with_history(client, updates=1)
    second = _deployment_with_history(client, updates=2)
    with _tables(client) as session:
        # Replace the second deployment's chain with a copy of the first one's, head and all.
        session.execute(
            delete(DeploymentAuditEntry).where(DeploymentAuditEntry.deployment_id == second)
        )
        for entry in _chain(session, first):
            copy = {c.key: getattr(entry, c.key) for c in DeploymentAuditEntry.__table__.columns}
            session.add(
                DeploymentAuditEntry(**{**copy, "id": entry.id[::-1], "deployment_id": second})
            )
        source, target = session.get(Deployment, first), session.get(Deployment, second)
        assert source is not None and target is not None
        target.audit_sequence, target.audit_hash = source.audit_sequence, source.audit_hash
        target.audit_hmac = source.audit_hmac
    assert _log(client, second)["verified"] is False


def test_whoever_holds_the_server_key_can_rewrite_the_chain(client: TestClient) -> None:
    """The documented limit: the seal proves nothing against someone with the secret key."""
    deployment_id = _deployment_with_history(client)
    with _tables(client) as session:
        session.delete(_chain(session, deployment_id)[-1])
        session.flush()
        _rechain(session, deployment_id, seal=client.app.state.audit_seal)
    assert _log(client, deployment_id)["verified"] is True


def test_concurrent_governed_actions_keep_one_gap_free_chain(client: TestClient) -> None:
    deployment_id = _deployment_with_history(client, updates=0)
    users = [create_user(client) for _ in range(3)]
    answers: list[int] = []

    def share(user: dict[str, Any]) -> Callable[[], None]:
        body = {
            "operation": "updateRoles",
            "roles": [{"shareRecipientType": "user", "id": user["user"]["id"], "role": "USER"}],
        }
        return lambda: answers.append(
            client.patch(f"{API}/{deployment_id}/sharedRoles", json=body).status_code
        )

    def describe(number: int) -> Callable[[], None]:
        body = {"description": f"d{number}"}
        return lambda: answers.append(client.patch(f"{API}/{deployment_id}", json=body).status_code)

    work = [share(user) for user in users] + [describe(n) for n in range(5)]
    threads = [threading.Thread(target=job) for job in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(answers) == [200] * 5 + [204] * 3
    log = _log(client, deployment_id)
    assert [e["sequence"] for e in log["data"]] == list(range(1, 10))
    assert log["verified"] is True


# --- the migration that seals existing chains ------------------------------------------------

SECRET = Fernet.generate_key().decode()


@pytest.fixture
def empty_database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'at-0007.db'}"
        return
    require_service(PG_URL is not None, "PostgreSQL tests need DOCKYARD_TEST_DATABASE_URL")
    with new_postgres_database("dockyard_migration") as url:
        yield url


def test_the_migration_seals_existing_chains(empty_database_url: str, tmp_path: Path) -> None:
    engine = make_engine(empty_database_url)
    try:
        upgrade(engine, target="0007")
    finally:
        engine.dispose()
    kept = "1" * 24
    _write_sealable_chain(empty_database_url, kept, ["create", "update", "stop"])
    truncated = "2" * 24
    _write_sealable_chain(empty_database_url, truncated, ["create", "update"], first_id=10)

    settings = Settings(
        home=tmp_path / "home",
        database_url=empty_database_url,
        admin_token=ADMIN_TOKEN,
        secret_key=SECRET,
        runtime="fake",
    )
    app = create_app(settings, run_reconciler=False)
    try:
        with TestClient(app, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as client:
            log = _log(client, kept)
            assert [e["action"] for e in log["data"]] == ["create", "update", "stop"]
            assert log["verified"] is True
            key = derive_key(SECRET.encode(), audit.SEAL_PURPOSE)
            assert all(e["hmac"] == audit.AuditSeal(key).entry(e["hash"]) for e in log["data"])
            # Sealed from now on: cutting off the last entry no longer verifies.
            assert _log(client, truncated)["verified"] is True
            with _tables(client) as session:
                session.delete(_chain(session, truncated)[-1])
            assert _log(client, truncated)["verified"] is False
    finally:
        app.state.db.dispose()


def test_the_migration_refuses_to_seal_without_the_key(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    try:
        upgrade(engine, target="0007")
        _write_sealable_chain(empty_database_url, "3" * 24, ["create"])
        with pytest.raises(RuntimeError, match="secret key"):
            upgrade(engine)
    finally:
        engine.dispose()


def _write_sealable_chain(
    url: str, deployment_id: str, actions: list[str], *, first_id: int = 1
) -> None:
    """Rows as a server before 0008 left them: a deployment and its hash-only chain."""
    engine = make_engine(url)
    previous = GENESIS
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO deployments (id, name, description, workload_id, created_at,"
                    " updated_at) VALUES (:id, 'old', '', :workload, :now, :now)"
                ),
                {"id": deployment_id, "workload": "f" * 24, "now": "2026-11-30 10:00:00"},
            )
            for sequence, action in enumerate(actions, start=1):
                entry = {
                    "id": f"{first_id + sequence:024x}",
                    "sequence": sequence,
                    "timestamp": f"2026-11-30T10:00:0{sequence}.000000Z",
                    "actorId": None,
                    "action": action,
                    "before": None,
                    "after": None,
                    "prevHash": previous,
                }
                previous = audit.digest(entry)
                connection.execute(
                    text(
                        "INSERT INTO deployment_audit (id, deployment_id, sequence, timestamp,"
                        " actor_id, action, prev_hash, hash) VALUES (:id, :deployment,"
                        " :sequence, :timestamp, NULL, :action, :prev, :hash)"
                    ),
                    {
                        "id": entry["id"],
                        "deployment": deployment_id,
                        "sequence": sequence,
                        "timestamp": entry["timestamp"],
                        "action": action,
                        "prev": entry["prevHash"],
                        "hash": previous,
                    },
                )
    finally:
        engine.dispose()
