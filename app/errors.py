"""Application errors carry their HTTP status; each surface renders them its own way."""

from __future__ import annotations


class AppError(Exception):
    """Base error: a user-facing ``message`` and the HTTP ``status_code`` it maps to."""

    status_code = 400

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code


class BadRequest(AppError):
    status_code = 400


class Unauthorized(AppError):
    status_code = 401


class Forbidden(AppError):
    status_code = 403


class NotFound(AppError):
    status_code = 404


class Conflict(AppError):
    status_code = 409


class PayloadTooLarge(AppError):
    status_code = 413


class UnsupportedMediaType(AppError):
    status_code = 415


class Invalid(AppError):
    """The request is well-formed but breaks a rule (unknown label, bad field)."""

    status_code = 422
