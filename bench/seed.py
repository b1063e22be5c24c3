"""Bulk seeding for the API benchmark: many artifacts straight into the database.

Going through the API would take an hour for 100,000 rows; SQLAlchemy core inserts take
seconds. The rows look like the API's own: a repository per five artifacts, every other
artifact locked at the next version of its repository, a tag each, owner grants for the
bench user, and (on SQLite) the search index filled by the triggers of the migrations.

Rows go into the tables as the migrations made them (read back from the database), not through
the ORM classes: `bench.compare` runs this code against older revisions too, whose classes
may live elsewhere, while the schema is the same.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, MetaData, Table, insert, select

from dockyard.server.artifacts.public import ARTIFACT as ARTIFACT_TYPE
from dockyard.server.artifacts.public import REPOSITORY as REPOSITORY_TYPE
from dockyard.server.kit.ids import new_id
from dockyard.server.users.tokens import hash_token

# A word no generated description contains except the few rows meant to match the search.
NEEDLE = "zephyrquill"
NEEDLE_ROWS = 60  # matching rows at every size; half of them locked
PER_REPOSITORY = 5
CHUNK = 5_000

_WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
    "quebec",
    "romeo",
    "sierra",
    "tango",
    "uniform",
    "victor",
    "whiskey",
    "xray",
    "yankee",
    "zulu",
    "model",
    "service",
    "inference",
    "batch",
    "stream",
    "embed",
    "rank",
    "vector",
    "token",
    "summarize",
    "translate",
    "classify",
]


@dataclass(frozen=True)
class Seeded:
    artifact_ids: list[str]
    repositories: int
    needle_locked: int  # rows a `search=NEEDLE&status=locked` list must return


def spec(index: int) -> dict[str, Any]:
    return {
        "containerGroups": [
            {
                "name": "default",
                "containers": [
                    {
                        "name": "primary",
                        "primary": True,
                        "imageUri": f"registry.example.com/team/app:{index % 97}",
                        "port": 8080,
                        "entrypoint": ["python", "-m", "http.server", "8080"],
                        "environmentVars": [{"name": "INDEX", "value": str(index)}],
                        "readinessProbe": {
                            "path": "/",
                            "port": 8080,
                            "scheme": "HTTP",
                            "initialDelaySeconds": 30,
                            "periodSeconds": 30,
                            "timeoutSeconds": 30,
                            "failureThreshold": 3,
                        },
                    }
                ],
            }
        ]
    }


def _chunks(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), CHUNK):
        yield rows[start : start + CHUNK]


def _table(engine: Engine, name: str) -> Table:
    return Table(name, MetaData(), autoload_with=engine)


def _when(engine: Engine, moment: datetime) -> datetime:
    """A time as Dockyard stores it: SQLite keeps naive UTC, PostgreSQL an aware time."""
    return moment.replace(tzinfo=None) if engine.dialect.name == "sqlite" else moment


def _insert(engine: Engine, name: str, rows: list[dict[str, Any]]) -> None:
    table = _table(engine, name)
    stamped = [
        {key: _when(engine, v) if isinstance(v, datetime) else v for key, v in row.items()}
        for row in rows
    ]
    for chunk in _chunks(stamped):
        with engine.begin() as connection:
            connection.execute(insert(table), chunk)


def seed(engine: Engine, count: int, owner_id: str, seed_value: int = 7) -> Seeded:
    """Insert `count` artifacts owned by `owner_id`; deterministic for one seed."""
    rng = random.Random(seed_value)
    start = datetime.now(UTC) - timedelta(days=30)
    step = timedelta(days=30) / max(count, 1)
    # Spread the needle rows over the whole table, as real matches would be.
    needles = set(rng.sample(range(count), min(NEEDLE_ROWS, count)))

    repositories: list[dict[str, Any]] = []
    artifacts: list[dict[str, Any]] = []
    tags: list[dict[str, Any]] = []
    grants: list[dict[str, Any]] = []
    needle_locked = 0
    repository: dict[str, Any] = {}
    for index in range(count):
        moment = start + step * index
        if index % PER_REPOSITORY == 0:
            repository = {
                "id": new_id(),
                "name": f"repo-{index // PER_REPOSITORY}",
                "description": "",
                "type": "service",
                "last_version_number": 0,
                "creator_id": owner_id,
                "created_at": moment,
                "updated_at": moment,
            }
            repositories.append(repository)
            grants.append(_grant(REPOSITORY_TYPE, repository["id"], owner_id, moment))
        words = rng.sample(_WORDS, 8)
        if index in needles:
            words.insert(rng.randrange(len(words)), NEEDLE)
        locked = index % 2 == 1
        version = None
        if locked:
            repository["last_version_number"] += 1
            version = repository["last_version_number"]
            needle_locked += index in needles
        artifact_id = new_id()
        artifacts.append(
            {
                "id": artifact_id,
                "repository_id": repository["id"],
                "name": f"{words[0]}-{words[1]}-{index}",
                "description": " ".join(words),
                "type": "service",
                "status": "locked" if locked else "draft",
                "version": version,
                "spec": spec(index),
                "creator_id": owner_id,
                "locked_at": moment if locked else None,
                "created_at": moment,
                "updated_at": moment,
            }
        )
        tags.append(
            {
                "id": new_id(),
                "resource_type": ARTIFACT_TYPE,
                "resource_id": artifact_id,
                "name": "team",
                "value": rng.choice(("search", "ranking", "vision", "speech")),
            }
        )
        grants.append(_grant(ARTIFACT_TYPE, artifact_id, owner_id, moment))

    _insert(engine, "artifact_repositories", repositories)
    _insert(engine, "artifacts", artifacts)
    _insert(engine, "tags", tags)
    _insert(engine, "shared_roles", grants)
    _analyze(engine)
    return Seeded([row["id"] for row in artifacts], len(repositories), needle_locked)


def _grant(resource_type: str, resource_id: str, user_id: str, moment: datetime) -> dict:
    return {
        "id": new_id(),
        "resource_type": resource_type,
        "resource_id": resource_id,
        "user_id": user_id,
        "role": "OWNER",
        "created_at": moment,
        "updated_at": moment,
    }


def _analyze(engine: Engine) -> None:
    # Fresh statistics, as a long-running database would have them. On PostgreSQL a VACUUM
    # too, as autovacuum would do soon after a bulk load: it moves the trigram indexes'
    # pending entries (GIN fastupdate) into the index proper, where a search no longer scans
    # them one by one, and sets the visibility map. It cannot run inside a transaction.
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
        return
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")


def create_user(engine: Engine, username: str, *, is_admin: bool = False) -> str:
    now = datetime.now(UTC)
    user_id = new_id()
    row = {
        "id": user_id,
        "username": username,
        "is_admin": is_admin,
        "created_at": now,
        "updated_at": now,
    }
    _insert(engine, "users", [row])
    return user_id


def add_token(engine: Engine, user_id: str, token: str) -> None:
    now = datetime.now(UTC)
    row = {
        "id": new_id(),
        "name": "bench",
        "user_id": user_id,
        "token_hash": hash_token(token),
        "created_at": now,
        "updated_at": now,
    }
    _insert(engine, "api_tokens", [row])


def user_id_of(engine: Engine, username: str) -> str:
    users = _table(engine, "users")
    with engine.connect() as connection:
        query = select(users.c.id).where(users.c.username == username)
        return connection.execute(query).scalar_one()


__all__ = ["NEEDLE", "Seeded", "add_token", "create_user", "seed", "spec", "user_id_of"]
