"""One error shape for every API failure: {"code", "message", "field_errors"}."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from portal.errors import PortalError


class ErrorSerializer(serializers.Serializer):
    """Documented in the OpenAPI schema as the body of every 4xx answer."""

    code = serializers.CharField()
    message = serializers.CharField()
    field_errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


def _where(prefix: str, key) -> str:
    if key == api_settings.NON_FIELD_ERRORS_KEY:
        return prefix
    if isinstance(key, int):  # an entry of a list field
        return f"{prefix}#{key + 1} "
    return f"{prefix}{key}: "


def _flatten(detail, prefix: str = "") -> list[str]:
    """Messages of a (nested) DRF error detail; a nested field's message says where it is
    ("#2 principal_arn: …" for the second entry of a list of objects)."""
    if isinstance(detail, dict):
        return [message for key, value in detail.items() for message in _flatten(value, _where(prefix, key))]
    if isinstance(detail, list):
        return [
            message
            for index, item in enumerate(detail)
            for message in _flatten(item, _where(prefix, index) if isinstance(item, dict) else prefix)
        ]
    return [f"{prefix}{detail}"]


def _field_errors(detail) -> tuple[str, dict[str, list[str]]]:
    if isinstance(detail, dict):
        general = _flatten(detail.pop(api_settings.NON_FIELD_ERRORS_KEY, []))
        fields = {key: _flatten(value) for key, value in detail.items()}
        if general:
            message = general[0]
        elif len(fields) == 1:
            [(name, messages)] = fields.items()
            message = f"{name}: {messages[0]}"
        else:
            message = f"{len(fields)} fields are not valid: {', '.join(fields)}. See field_errors."
        return message, fields
    messages = _flatten(detail)
    return (messages[0] if messages else "The request is not valid."), {}


# DRF's own wording for these, replaced by what the caller should do.
PLAIN_EXCEPTION_MESSAGES = {
    exceptions.NotAuthenticated: "Sign in, or send a personal API token: Authorization: Bearer <token>.",
    exceptions.UnsupportedMediaType: "Send the request body as JSON, with Content-Type: application/json.",
    exceptions.NotAcceptable: "This API answers in JSON only: accept application/json.",
}


def exception_handler(exc, context):
    if isinstance(exc, PortalError):
        body = {"code": exc.code, "message": exc.message, "field_errors": exc.field_errors}
        retry_after = getattr(exc, "retry_after", None)
        return Response(
            body, status=exc.http_status, headers={"Retry-After": str(retry_after)} if retry_after else None
        )
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound("There is nothing here, or you cannot see it.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif type(exc) in PLAIN_EXCEPTION_MESSAGES:
        # In place: the view has already put the WWW-Authenticate header on this exception.
        exc.detail = exceptions.ErrorDetail(PLAIN_EXCEPTION_MESSAGES[type(exc)], code=exc.default_code)
    elif isinstance(exc, RequestDataTooBig):
        exc = exceptions.ParseError(
            f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes."
        )

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # unexpected: Django's 500 handler answers in the same shape
    if isinstance(exc, exceptions.ValidationError):
        message, field_errors = _field_errors(exc.detail)
        code = "invalid"
    else:
        message = _flatten(exc.detail)[0] if getattr(exc, "detail", None) else str(exc)
        field_errors = {}
        codes = exc.get_codes() if hasattr(exc, "get_codes") else "error"
        code = codes if isinstance(codes, str) else "error"
    response.data = {"code": code, "message": message, "field_errors": field_errors}
    return response
