"""REST API for chargeback: runs, their lines, the three CSVs and finalize. Thin over billing.selectors,
billing.exports and billing.services; access from portal.access (runs and CSVs: finance and platform
admins; lines: anyone, limited to the teams whose costs they may see; finalize: finance)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from billing import exports, selectors, services
from billing.api import serializers as s
from billing.filters import LineFilterSet
from billing.forms import month_from_text
from billing.models import ChargebackLine
from portal import access
from portal.api.errors import ErrorSerializer
from portal.csv_export import streaming_csv_response

ERRORS = {401: ErrorSerializer, 403: ErrorSerializer}
DETAIL_ERRORS = {400: ErrorSerializer, **ERRORS, 404: ErrorSerializer}
ACTION_ERRORS = {**DETAIL_ERRORS, 409: ErrorSerializer}
MONTH = OpenApiParameter(
    "month", str, location=OpenApiParameter.PATH, pattern=r"^\d{4}-\d{2}$", description="YYYY-MM"
)


def _month(text: str):
    try:
        return month_from_text(text)
    except ValueError as exc:
        raise ValidationError({"month": [str(exc)]}) from exc


def _require_all_costs(user) -> None:
    if not access.sees_all_costs(user):
        raise PermissionDenied


class RunListApi(generics.ListAPIView):
    serializer_class = s.RunOutput

    def get_queryset(self):
        _require_all_costs(self.request.user)
        return selectors.run_list(user=self.request.user)

    @extend_schema(
        responses={200: s.RunOutput(many=True), **DETAIL_ERRORS},
        summary="Chargeback runs, newest first (finance and platform admins)",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class RunDetailApi(APIView):
    @extend_schema(
        parameters=[MONTH], responses={200: s.RunOutput, **DETAIL_ERRORS}, summary="One month's run"
    )
    def get(self, request, month: str):
        _require_all_costs(request.user)
        return Response(s.RunOutput(selectors.run_get(user=request.user, month=_month(month))).data)


class RunLineListApi(generics.ListAPIView):
    serializer_class = s.LineOutput
    filter_backends = [DjangoFilterBackend]
    filterset_class = LineFilterSet  # `?team=`, and its OpenAPI parameter
    # What the schema generator reads the model from (it has no month in the URL to call get_queryset with).
    queryset = ChargebackLine.objects.none()

    def get_queryset(self):
        run = selectors.run_for_month(_month(self.kwargs["month"]))
        if run is None:
            raise Http404
        return selectors.line_list(user=self.request.user, run=run).select_related("team")

    @extend_schema(
        parameters=[MONTH],
        responses={200: s.LineOutput(many=True), **DETAIL_ERRORS},
        summary="A month's lines for the teams whose costs you may see",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class RunCsvApi(APIView):
    """One of the three CSVs (`kind`: summary, lines, focus); errors stay JSON whatever Accept says."""

    kind = "summary"

    def perform_content_negotiation(self, request, force=False):
        return JSONRenderer(), JSONRenderer.media_type

    @extend_schema(parameters=[MONTH], responses={(200, "text/csv"): OpenApiTypes.STR, **DETAIL_ERRORS})
    def get(self, request, month: str):
        _require_all_costs(request.user)
        csv = exports.export(selectors.run_get(user=request.user, month=_month(month)), self.kind)
        return streaming_csv_response(csv.filename, csv.header, csv.rows)


def csv_api(kind: str, summary: str):
    view = extend_schema(summary=summary)(type(f"Run{kind.title()}CsvApi", (RunCsvApi,), {"kind": kind}))
    return view.as_view()


class RunFinalizeApi(APIView):
    @extend_schema(
        parameters=[MONTH],
        request=None,
        responses={200: s.RunOutput, **ACTION_ERRORS},
        summary="Finalize a provisional month (finance): its lines never change again",
    )
    def post(self, request, month: str):
        chosen = _month(month)
        if not access.can_finalize_chargeback(request.user):
            raise PermissionDenied
        selectors.run_get(user=request.user, month=chosen)
        run = services.finalize_month(month=chosen, actor=request.user)
        return Response(s.RunOutput(run).data)
