"""TokenVerifier: answers are trusted for at most `ttl` seconds (clock injected, no sleeps)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import delete

from dockyard.server.users.models import ApiToken
from dockyard.server.users.tokens import TokenVerifier, generate_token, hash_token
from tests.factories import create_user


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_generated_tokens_are_random_and_prefixed() -> None:
    tokens = {generate_token() for _ in range(50)}
    assert len(tokens) == 50
    assert all(t.startswith("dy_") and len(t) > 40 for t in tokens)
    assert len(hash_token("x")) == 64


def test_revoked_token_is_refused_once_the_ttl_has_passed(client: TestClient) -> None:
    alice = create_user(client, "alice")
    db = client.app.state.db
    clock = FakeClock()
    verifier = TokenVerifier(db, ttl=1.0, clock=clock)
    principal = verifier.verify(alice["token"])
    assert principal is not None and principal.username == "alice"

    with db.unit_of_work() as session:  # revoked behind the verifier's back (another process)
        session.execute(delete(ApiToken).where(ApiToken.token_hash == hash_token(alice["token"])))

    clock.now += 0.999
    assert verifier.verify(alice["token"]) == principal  # still within the cached second
    clock.now += 0.001
    assert verifier.verify(alice["token"]) is None  # a second after the check: refused


def test_forget_drops_cached_answers_at_once(client: TestClient) -> None:
    alice = create_user(client, "alice")
    db = client.app.state.db
    verifier = TokenVerifier(db, ttl=1.0, clock=FakeClock())
    assert verifier.verify(alice["token"]) is not None
    with db.unit_of_work() as session:
        session.execute(delete(ApiToken).where(ApiToken.token_hash == hash_token(alice["token"])))
    verifier.forget()
    assert verifier.verify(alice["token"]) is None


def test_unknown_and_oversized_tokens_are_refused(client: TestClient) -> None:
    verifier = TokenVerifier(client.app.state.db, clock=FakeClock())
    assert verifier.verify("dy_nope") is None
    assert verifier.verify("x" * 10_000) is None
