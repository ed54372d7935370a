"""Domain errors that know their HTTP problem+json response (RFC 9457)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any


class ApiError(Exception):
    """An error answered as application/problem+json with `status`."""

    status = 500
    slug = "internal"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
        title: str | None = None,
    ):
        super().__init__(detail or self.default_title())
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.title = title or self.default_title()

    @classmethod
    def default_title(cls) -> str:
        return HTTPStatus(cls.status).phrase

    def body(self, request_id: str | None = None) -> dict[str, Any]:
        return problem(self.status, self.title, self.detail, slug=self.slug, errors=self.errors,
                       request_id=request_id)


def problem(status: int, title: str, detail: str | None = None, *, slug: str | None = None,
            errors: dict | None = None, request_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"urn:chatter:problem:{slug}" if slug else "about:blank",
        "title": title,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if errors is not None:
        body["errors"] = errors
    if request_id:
        body["request_id"] = request_id
    return body


class BadRequest(ApiError):
    status, slug = 400, "bad-request"


class Unauthorized(ApiError):
    status, slug = 401, "unauthorized"

    def __init__(self, detail: str | None = "Authentication required.", **kw):
        kw.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="chatter"'})
        super().__init__(detail, **kw)


class Forbidden(ApiError):
    status, slug = 403, "forbidden"


class DmNotAllowed(Forbidden):
    """A message the recipient does not accept (their dm_policy, or a block): 403 and nothing more."""

    slug = "dm-not-allowed"

    def __init__(self, detail: str | None = "This user does not accept your messages.", **kw):
        super().__init__(detail, **kw)


class AccountSuspended(Forbidden):
    """A login to a suspended account, after its password checked out (403)."""

    slug = "account-suspended"

    def __init__(self, until: str | None = None):
        detail = f"This account is suspended until {until}." if until else "This account is suspended."
        super().__init__(detail, title="Account suspended")
        self.until = until


class NotFound(ApiError):
    """404; `resource` names what was not found (Conduit answers {"<resource>": ["not found"]})."""

    status, slug = 404, "not-found"

    def __init__(self, detail: str | None = None, *, resource: str | None = None, **kw):
        super().__init__(detail, **kw)
        self.resource = resource


class Conflict(ApiError):
    status, slug = 409, "conflict"


class PayloadTooLarge(ApiError):
    status, slug = 413, "payload-too-large"


class UnsupportedMediaType(ApiError):
    status, slug = 415, "unsupported-media-type"


class ValidationFailed(ApiError):
    """422 with per-field messages."""

    status, slug = 422, "validation"

    def __init__(self, errors: dict[str, Any], detail: str = "The request did not validate.", **kw):
        super().__init__(detail, errors=normalize_errors(errors), **kw)


class TooManyRequests(ApiError):
    status, slug = 429, "rate-limited"

    def __init__(self, retry_after: int, detail: str = "Too many requests; retry later.",
                 headers: dict[str, str] | None = None):
        super().__init__(detail, headers={"Retry-After": str(max(1, int(retry_after))), **(headers or {})})
        self.retry_after = retry_after


class ServiceUnavailable(ApiError):
    status, slug = 503, "unavailable"

    def __init__(self, detail: str = "A backing service is unavailable; retry shortly.", retry_after: int = 5):
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


def normalize_errors(errors: Any, prefix: str = "") -> dict[str, list[str]]:
    """Flatten marshmallow's nested messages into {"field.sub": ["msg", ...]}."""
    out: dict[str, list[str]] = {}
    if isinstance(errors, dict):
        for key, value in errors.items():
            name = "_body" if key == "_schema" and not prefix else (
                f"{prefix}.{key}" if prefix else str(key))
            for k, v in normalize_errors(value, name).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(errors, list | tuple):
        for item in errors:
            if isinstance(item, dict | list | tuple):
                for k, v in normalize_errors(item, prefix).items():
                    out.setdefault(k, []).extend(v)
            else:
                out.setdefault(prefix or "_body", []).append(str(item))
    else:
        out.setdefault(prefix or "_body", []).append(str(errors))
    return out
