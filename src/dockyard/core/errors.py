"""The one error tree. Each error carries its HTTP status and a stable `code`.

The server renders these as `{"message", "code", "detail"}`; the SDK rebuilds the same class
from the `code` it receives, so callers catch the same exceptions on both sides.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DockyardError(Exception):
    """Root of every error Dockyard reports."""

    status_code: ClassVar[int] = 500
    default_code: ClassVar[str] = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        blockers: list[dict[str, Any]] | None = None,
        detail: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.blockers = blockers
        self._detail = detail

    @property
    def detail(self) -> Any:
        # Hosted-API clients read `detail`; for everything but validation it repeats the message.
        return self._detail if self._detail is not None else self.message

    def to_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "code": self.code, "detail": self.detail}
        if self.blockers is not None:
            body["blockers"] = self.blockers
        return body


class BadRequest(DockyardError):
    status_code = 400
    default_code = "bad_request"


class Unauthorized(DockyardError):
    status_code = 401
    default_code = "unauthorized"


class Forbidden(DockyardError):
    status_code = 403
    default_code = "forbidden"


class NotFound(DockyardError):
    status_code = 404
    default_code = "not_found"

    @classmethod
    def of(cls, kind: str, object_id: str) -> NotFound:
        """`NotFound.of("artifact", id)` → code `artifact_not_found`."""
        label = kind.replace("_", " ")
        return cls(f"The {label} '{object_id}' does not exist.", code=f"{kind}_not_found")


class MethodNotAllowed(DockyardError):
    status_code = 405
    default_code = "method_not_allowed"


class Conflict(DockyardError):
    status_code = 409
    default_code = "conflict"


class PayloadTooLarge(DockyardError):
    status_code = 413
    default_code = "payload_too_large"


class RuleViolation(DockyardError):
    """A 422 from a business rule (`type_not_supported`, `same_artifact`, …)."""

    status_code = 422
    default_code = "rule_violation"


class ValidationFailed(DockyardError):
    """A 422 whose `detail` lists `{loc, msg, type}` entries, like schema validation."""

    status_code = 422
    default_code = "validation_error"

    def __init__(
        self, errors: list[dict[str, Any]], message: str | None = None, *, code: str | None = None
    ) -> None:
        first = errors[0]["msg"] if errors else "invalid input"
        super().__init__(message or f"Validation failed: {first}", code=code, detail=errors)

    @classmethod
    def at(
        cls, loc: list[str | int], msg: str, type_: str = "value_error", *, code: str | None = None
    ) -> ValidationFailed:
        """One issue at `loc`; `code` names the rule when it is not plain validation."""
        return cls([{"loc": loc, "msg": msg, "type": type_}], code=code)


class NotImplementedYet(DockyardError):
    status_code = 501
    default_code = "not_implemented"


class ServiceUnavailable(DockyardError):
    status_code = 503
    default_code = "service_unavailable"


ERROR_CLASSES: dict[int, type[DockyardError]] = {
    cls.status_code: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        Conflict,
        PayloadTooLarge,
        NotImplementedYet,
        ServiceUnavailable,
    )
}


def error_from_response(status_code: int, body: dict[str, Any]) -> DockyardError:
    """Rebuild the exception a server response describes (used by the SDK)."""
    code = str(body.get("code") or "")
    message = str(body.get("message") or body.get("detail") or f"HTTP {status_code}")
    if status_code == 422:
        if code == "validation_error" and isinstance(body.get("detail"), list):
            return ValidationFailed(body["detail"], message=message)
        return RuleViolation(message, code=code or None)
    cls = ERROR_CLASSES.get(status_code, DockyardError)
    return cls(message, code=code or None, blockers=body.get("blockers"))
