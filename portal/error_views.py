"""Error pages. Under /api/ they answer in the API's one error shape instead of HTML."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def _error(request: HttpRequest, status: int, code: str, message: str) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"code": code, "message": message, "field_errors": {}}, status=status)
    return render(request, "error.html", {"status": status, "message": message}, status=status)


def bad_request(request, exception=None):
    return _error(request, 400, "bad_request", "The request could not be understood.")


def permission_denied(request, exception=None):
    return _error(request, 403, "permission_denied", "You do not have permission to do this.")


def page_not_found(request, exception=None):
    return _error(request, 404, "not_found", "There is nothing here, or you cannot see it.")


def server_error(request):
    return _error(request, 500, "server_error", "Something went wrong on our side. It has been logged.")
