"""Which API version Dockyard reports."""

from __future__ import annotations

from dockyard import __version__
from dockyard.core.models import ServerVersion

# The hosted API release whose Workload API Dockyard implements. Clients compare it with the
# release they were built for: the major must match, and a client newer than the server warns.
API_MAJOR = 2
API_MINOR = 49


def server_version() -> ServerVersion:
    """Asked with a token, as on the hosted platform: clients check their token with it."""
    return ServerVersion(
        major=API_MAJOR,
        minor=API_MINOR,
        version_string=f"{API_MAJOR}.{API_MINOR}",
        dockyard_version=__version__,
    )
