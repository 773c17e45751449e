"""One error shape for every API failure: {"code", "message", "field_errors"}."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from portal.errors import PortalError


class ErrorSerializer(serializers.Serializer):
    """Documented in the OpenAPI schema as the body of every 4xx answer."""

    code = serializers.CharField()
    message = serializers.CharField()
    field_errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


def _flatten(detail) -> list[str]:
    if isinstance(detail, dict):
        return [f"{key}: {message}" for key, value in detail.items() for message in _flatten(value)]
    if isinstance(detail, list):
        return [message for item in detail for message in _flatten(item)]
    return [str(detail)]


def _field_errors(detail) -> tuple[str, dict[str, list[str]]]:
    if isinstance(detail, dict):
        general = _flatten(detail.pop("non_field_errors", [])) if "non_field_errors" in detail else []
        fields = {key: _flatten(value) for key, value in detail.items()}
        message = general[0] if general else "Some fields are not valid. See field_errors."
        return message, fields
    messages = _flatten(detail)
    return (messages[0] if messages else "The request is not valid."), {}


def exception_handler(exc, context):
    if isinstance(exc, PortalError):
        body = {"code": exc.code, "message": exc.message, "field_errors": exc.field_errors}
        return Response(body, status=exc.http_status)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound("There is nothing here, or you cannot see it.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
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
