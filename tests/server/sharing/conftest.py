"""A shareable test resource ("widget") mounted with the generic sharedRoles routes.

The generic behaviour is tested on its own here, independent of any real domain; the domains
(artifacts, repositories, workloads, deployments) test their own wiring.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import APIRouter, FastAPI
from sqlalchemy.orm import Session

from dockyard.core.errors import NotFound
from dockyard.server.kit.ids import new_id
from dockyard.server.sharing import service
from dockyard.server.sharing.router import add_shared_roles_routes
from dockyard.server.sharing.service import Target

WIDGET = "widget"


@pytest.fixture
def make_widget(app: FastAPI) -> Callable[[str], str]:
    """Mounts /api/v2/widgets/{id}/sharedRoles; the returned function creates an owned widget."""
    widgets: set[str] = set()

    def resolve(_: Session, object_id: str) -> Target:
        if object_id not in widgets:
            raise NotFound.of(WIDGET, object_id)
        return Target(WIDGET, object_id, WIDGET)

    router = APIRouter()
    add_shared_roles_routes(router, path="/{object_id}", resolve=resolve, tag="Widgets")
    app.include_router(router, prefix="/api/v2/widgets")

    def create(owner_id: str) -> str:
        widget_id = new_id()
        with app.state.db.unit_of_work() as session:
            service.grant_owner(session, WIDGET, widget_id, owner_id)
        widgets.add(widget_id)
        return widget_id

    return create
