"""What an API server's refusal, or its silence, means to the reconciler's retry policy."""

from __future__ import annotations

from lightkube import ApiError

from dockyard.server.runtimes.base import RuntimePermanentError, RuntimeTemporaryError


def api_failure(exc: ApiError, doing: str) -> RuntimePermanentError | RuntimeTemporaryError:
    """An API server's error answer to `doing` (words such as "writing Job x"): overload and
    server faults pass, a refusal of the Role or of the object does not."""
    code, message = exc.status.code or 0, exc.status.message or ""
    if code == 429 or code >= 500:
        return RuntimeTemporaryError(f"{doing}: the API server answered {code} ({message})")
    if code in (401, 403):
        return RuntimePermanentError(
            f"{doing}: the cluster refused it ({message}); check Dockyard's Role",
            code="runtime_forbidden",
        )
    return RuntimePermanentError(f"{doing}: the API server answered {code} ({message})")


def unreachable(server: str, exc: Exception) -> RuntimeTemporaryError:
    """The API server at `server` did not answer (`exc`, a transport error)."""
    return RuntimeTemporaryError(
        f"the Kubernetes API server at {server} does not answer: {exc}", delay=2.0
    )
