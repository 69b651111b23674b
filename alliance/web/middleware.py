"""Request ids and the security headers every response carries."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from alliance.audit.context import request_id
from alliance.audit.log import AuditWriteFailed, batch

logger = logging.getLogger("alliance.audit")

# No other origin, ever: scripts, styles, images, fonts and forms come from us alone.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        rid = secrets.token_hex(8)
        token = request_id.set(rid)
        try:
            response = self.get_response(request)
        finally:
            request_id.reset(token)
        response["X-Request-ID"] = rid
        return response


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 405 and not response.content and not _is_api(request):
            response.content = render_to_string("405.html").encode()
            response["Content-Type"] = "text/html; charset=utf-8"
        response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        if not request.path.startswith("/static/"):
            # Pages may show client data: never keep them in a browser or proxy cache.
            response["Cache-Control"] = "no-store"
        return response


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def _has_nul(request: HttpRequest) -> bool:
    query = request.META.get("QUERY_STRING", "").encode("latin-1", "replace")
    if b"%00" in query or b"\x00" in query:
        return True
    if request.method not in {"POST", "PUT", "PATCH"}:
        return False
    body = request.body
    kind = request.content_type or ""
    if kind == "application/x-www-form-urlencoded":
        marker = b"%00"
    elif kind.endswith("json"):  # application/json, application/fhir+json
        marker = b"\\u0000"
    else:
        marker = b"\x00"
    return b"\x00" in body or marker in body


class RejectNulMiddleware:
    """A NUL character is never valid input, and PostgreSQL refuses to store one: answer 400."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            has_nul = _has_nul(request)
        except RequestDataTooBig:
            return _refuse(request, "The request is too large.", status=413)
        if has_nul:
            return _refuse(request, "The request contains a NUL character, never valid input.")
        return self.get_response(request)


def _refuse(request: HttpRequest, message: str, status: int = 400) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": message}, status=status)
    return HttpResponse(message, content_type="text/plain; charset=utf-8", status=status)


class AuditBatchMiddleware:
    """The audit entries of a request's reads are written together, in one short transaction,
    before its response leaves (entries of a change are written inside its own transaction).

    If an entry cannot be written, the request fails: the page it rendered is thrown away, or
    the change's transaction has already rolled back with it, and the answer is a 503 saying
    so instead of a traceback.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            with batch():
                return self.get_response(request)
        except AuditWriteFailed as exc:
            return unaudited(request, exc)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, AuditWriteFailed):
            return unaudited(request, exception)
        return None


def unaudited(request: HttpRequest, exc: AuditWriteFailed) -> HttpResponse:
    """The answer to a request whose audit entry could not be written (it touches no database:
    the transaction the failure happened in may not be usable any more)."""
    logger.error("audit write failed, request refused: %s", exc.__cause__ or exc, exc_info=exc)
    if _is_api(request):
        return JsonResponse({"detail": AuditWriteFailed.detail}, status=503)
    body = render_to_string("audit_failed.html", {"detail": AuditWriteFailed.detail})
    return HttpResponse(body, content_type="text/html; charset=utf-8", status=503)
