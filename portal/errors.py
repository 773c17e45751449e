"""Domain errors. The API turns them into its one error shape; HTML views into form errors/messages."""

from __future__ import annotations


class PortalError(Exception):
    """An expected failure with a message a person understands."""

    code = "error"
    http_status = 400

    def __init__(self, message: str, *, field_errors: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        self.field_errors = field_errors or {}


class Conflict(PortalError):
    """The object is not in a state that allows this (e.g. an already decided request)."""

    code = "conflict"
    http_status = 409


class NotAllowed(PortalError):
    code = "permission_denied"
    http_status = 403
