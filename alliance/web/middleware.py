"""Request ids and the security headers every response carries."""

from __future__ import annotations

import secrets
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.template.loader import render_to_string

from alliance.audit.context import request_id

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
    encoded = {"application/x-www-form-urlencoded": b"%00", "application/json": b"\\u0000"}
    marker = encoded.get(kind)
    return b"\x00" in body or (marker is not None and marker in body)


class RejectNulMiddleware:
    """A NUL character is never valid input, and PostgreSQL refuses to store one: answer 400."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _has_nul(request):
            message = "The request contains a NUL character, which is never valid input."
            if _is_api(request):
                return JsonResponse({"detail": message}, status=400)
            return HttpResponseBadRequest(message, content_type="text/plain")
        return self.get_response(request)
