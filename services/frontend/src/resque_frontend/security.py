"""Optional authentication, read-only mode and CSRF protection.

CSRF uses a double-submit cookie: a random token in a SameSite=Strict cookie
that every form repeats; a POST whose form token differs from the cookie, or
whose ``Origin`` is another site, is refused. No server secret is needed, so it
works across gunicorn workers and replicas.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from urllib.parse import urlsplit

from flask import Flask, Response, g, request

from resque_frontend.config import Settings

CSRF_COOKIE = "resque_csrf"
CSRF_FIELD = "csrf_token"
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class Refused(Exception):
    """A request refused with a status and a message for people."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def csrf_token() -> str:
    """The token forms must carry; issued as a cookie with this response if new."""
    token: str | None = g.get("csrf_token")
    if token is None:
        token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
        g.csrf_token = token
    return token


def _same_origin() -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == request.host


def check_csrf() -> None:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    sent = request.form.get(CSRF_FIELD, "")
    if not cookie or not sent or not hmac.compare_digest(cookie, sent):
        raise Refused(403, "The form was stale or came from another site (CSRF check failed). "
                           "Reload the page and try again; nothing was changed.")  # fmt: skip
    if not _same_origin():
        raise Refused(403, "The request came from another site; nothing was changed.")


def _credentials_ok(settings: Settings) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and settings.auth_token:
        return hmac.compare_digest(value.strip(), settings.auth_token)
    if scheme.lower() != "basic":
        return False
    try:
        user, _, password = base64.b64decode(value.strip()).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    if settings.auth_token and hmac.compare_digest(password, settings.auth_token):
        return True
    if settings.auth_password and settings.auth_user:
        return hmac.compare_digest(user, settings.auth_user) and hmac.compare_digest(
            password, settings.auth_password
        )
    return False


def install(app: Flask, settings: Settings) -> None:
    @app.before_request
    def guard() -> Response | None:
        if request.path in OPEN_PATHS:
            return None
        if settings.auth_required and not _credentials_ok(settings):
            return Response(
                "Authentication required.\n",
                401,
                {"WWW-Authenticate": 'Basic realm="resque", charset="UTF-8"'},
                mimetype="text/plain",
            )
        if request.method == "POST":
            if settings.read_only:
                raise Refused(403, "This dashboard is read-only; nothing was changed.")
            check_csrf()
        return None

    @app.after_request
    def issue_cookie(response: Response) -> Response:
        if response.mimetype == "text/html":
            csrf_token()  # every page issues the cookie, so the first POST never fails
        token = g.get("csrf_token")
        if token and request.cookies.get(CSRF_COOKIE) != token:
            response.set_cookie(
                CSRF_COOKIE, token, httponly=True, samesite="Strict", secure=request.is_secure
            )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'; form-action 'self'",
        )
        return response
