"""REST API for requests and clusters: thin classes over clusters.requests.services and portal.access."""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.fields import SkipField
from rest_framework.response import Response
from rest_framework.views import APIView

from clusters import selectors
from clusters.api import serializers as s
from clusters.filters import RequestApiFilterSet
from clusters.models import Request
from clusters.requests import idempotency, services
from portal import access
from portal.api.errors import ErrorSerializer

ERRORS = {401: ErrorSerializer, 403: ErrorSerializer}
LIST_ERRORS = {400: ErrorSerializer, **ERRORS, 404: ErrorSerializer}
CREATE_ERRORS = {400: ErrorSerializer, **ERRORS, 409: ErrorSerializer}
ACTION_ERRORS = {400: ErrorSerializer, **ERRORS, 404: ErrorSerializer, 409: ErrorSerializer}
IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "Retry-safe creates: the same key and body return the first answer (header Idempotent-Replayed: "
        "true) instead of a new request, also while the first attempt is still running (the repeat waits "
        "for it, or after a while answers 409 idempotency_key_in_use with Retry-After). The same key with "
        "another body is a 409."
    ),
)
DECISIONS_IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "Retry-safe bulk decisions: the same key and body return the first answer (header "
        "Idempotent-Replayed: true) and decide nothing again, also while the first attempt is still running "
        "(the repeat waits for it, or after a while answers 409 idempotency_key_in_use with Retry-After). "
        "With a key, the decisions and the answer commit together. The same key with another body is a 409."
    ),
)


def _answered(answer: idempotency.Answer, status_code: int) -> Response:
    response = Response(answer.body, status=status_code)
    if answer.replayed:
        response["Idempotent-Replayed"] = "true"
    return response


def _prepare_topic(user, data) -> services.Prepared:
    entries = [services.AccessInput(**entry) for entry in data.pop("access", None) or []]
    return services.prepare_topic_create(actor=user, access_entries=entries, **data)


def _prepare_access(user, data) -> services.Prepared:
    entry = services.AccessInput(**{name: data.pop(name) for name in s.AccessEntryInput().fields})
    return services.prepare_access_grant(actor=user, entry=entry, **data)


def _parsed_fields(serializer, *, in_error) -> dict | None:
    """What did parse of an input that did not parse as a whole: each field's value, None for the fields
    `in_error`; None when the body is not an object at all."""
    if not isinstance(serializer.initial_data, Mapping):
        return None
    parsed = {}
    for name, field in serializer.fields.items():
        if field.read_only:
            continue
        if name in in_error:
            parsed[field.source] = None
            continue
        try:
            parsed[field.source] = field.run_validation(field.get_value(serializer.initial_data))
        except SkipField:
            continue  # not given and no default: the service's own default applies
        except (serializers.ValidationError, DjangoValidationError):
            parsed[field.source] = None
    return parsed


def _valid_or_all_errors(serializer, prepare, user, *, partial_checks: bool) -> dict:
    """The parsed input. When some fields do not parse, a 400 with their errors and, with
    `partial_checks`, the service's errors on the fields that did parse: every error at once."""
    if serializer.is_valid():
        return dict(serializer.validated_data)
    errors = dict(serializer.errors)
    parsed = _parsed_fields(serializer, in_error=errors) if partial_checks else None
    if parsed is not None:
        found = services.partial_errors(lambda: prepare(user, {**parsed, "partial": True}))
        for field, field_errors in found.items():
            errors.setdefault(field, [message for error in field_errors for message in error.messages])
    raise serializers.ValidationError(errors)


def _create_request_api(
    kind: str, input_serializer, prepare, summary: str, *, partial_checks: bool = False
) -> type[APIView]:
    """POST of one request kind: parse with `input_serializer`, `prepare(user, data)`, submit (once per
    Idempotency-Key). The seven kinds differ only in these things; `partial_checks`: `prepare` takes
    `partial=True` and checks what parsed when the rest did not."""

    class CreateRequestApi(APIView):
        def _submit(self, request) -> Request:
            serializer = input_serializer(data=request.data, context={"request": request})
            data = _valid_or_all_errors(serializer, prepare, request.user, partial_checks=partial_checks)
            prepared = prepare(request.user, data)
            return services.submit_request(actor=request.user, prepared=prepared)

        @extend_schema(
            request=input_serializer,
            responses={201: s.RequestDetailOutput, **CREATE_ERRORS},
            parameters=[IDEMPOTENCY_HEADER],
            summary=summary,
        )
        def post(self, request):
            answer = idempotency.submit_once(
                user=request.user,
                key=request.headers.get("Idempotency-Key"),
                kind=kind,
                body=request.data,
                submit=lambda: self._submit(request),
                render=lambda created: s.RequestDetailOutput(created).data,
            )
            return _answered(answer, status.HTTP_201_CREATED)

    CreateRequestApi.__name__ = CreateRequestApi.__qualname__ = (
        f"{kind.title().replace('.', '')}RequestCreateApi"
    )
    return CreateRequestApi


Kind = Request.Kind
ClusterRequestCreateApi = _create_request_api(
    Kind.CLUSTER_CREATE,
    s.ClusterRequestInput,
    lambda user, data: services.prepare_cluster_create(actor=user, **data),
    "Request a new MSK Serverless cluster",
    partial_checks=True,
)
TopicRequestCreateApi = _create_request_api(
    Kind.TOPIC_CREATE,
    s.TopicRequestInput,
    _prepare_topic,
    "Request a topic (optionally with access for its clients)",
    partial_checks=True,
)
TopicUpdateRequestCreateApi = _create_request_api(
    Kind.TOPIC_UPDATE,
    s.TopicUpdateInput,
    lambda user, data: services.prepare_topic_update(actor=user, **data),
    "Request a change to a topic (partitions up, configs)",
)
TopicDeleteRequestCreateApi = _create_request_api(
    Kind.TOPIC_DELETE,
    s.TopicDeleteInput,
    lambda user, data: services.prepare_topic_delete(actor=user, **data),
    "Request the deletion of a topic",
)
AccessRequestCreateApi = _create_request_api(
    Kind.ACCESS_GRANT,
    s.AccessRequestInput,
    _prepare_access,
    "Request produce/consume access for an IAM role",
    partial_checks=True,
)
AccessRevokeRequestCreateApi = _create_request_api(
    Kind.ACCESS_REVOKE,
    s.AccessRevokeInput,
    lambda user, data: services.prepare_access_revoke(actor=user, **data),
    "Request the removal of an access grant",
)
DecommissionRequestCreateApi = _create_request_api(
    Kind.CLUSTER_DECOMMISSION,
    s.DecommissionInput,
    lambda user, data: services.prepare_cluster_decommission(actor=user, **data),
    "Request the decommissioning of a cluster",
)


class RequestListApi(generics.ListAPIView):
    serializer_class = s.RequestOutput
    filter_backends = [DjangoFilterBackend]
    filterset_class = RequestApiFilterSet  # the HTML request list's filters; the OpenAPI parameters too

    def get_queryset(self):
        return selectors.request_list(user=self.request.user).select_related(
            "team", "requested_by", "decided_by", "approved_by_rule"
        )

    @extend_schema(responses={200: s.RequestOutput(many=True), **LIST_ERRORS}, summary="Requests you can see")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


def _visible_request(user, pk: int) -> Request:
    request = (
        access.requests_visible_to(user)
        .select_related("team", "requested_by", "decided_by", "approved_by_rule")
        .filter(pk=pk)
        .first()
    )
    if request is None:
        raise Http404
    return request


class RequestDetailApi(APIView):
    @extend_schema(
        responses={200: s.RequestDetailOutput, **ERRORS, 404: ErrorSerializer}, summary="One request"
    )
    def get(self, request, pk: int):
        return Response(s.RequestDetailOutput(_visible_request(request.user, pk)).data)


class RequestApproveApi(APIView):
    @extend_schema(
        request=s.ApproveInput, responses={200: s.RequestDetailOutput, **ACTION_ERRORS}, summary="Approve"
    )
    def post(self, request, pk: int):
        _visible_request(request.user, pk)
        services.require_decider(request_id=pk, actor=request.user)  # who may, before what the body says
        serializer = s.ApproveInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        approved = services.approve_request(
            request_id=pk, actor=request.user, override_reason=serializer.validated_data["override_reason"]
        )
        return Response(s.RequestDetailOutput(_visible_request(request.user, approved.pk)).data)


class RequestRejectApi(APIView):
    @extend_schema(
        request=s.RejectInput, responses={200: s.RequestDetailOutput, **ACTION_ERRORS}, summary="Reject"
    )
    def post(self, request, pk: int):
        _visible_request(request.user, pk)
        serializer = s.RejectInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.reject_request(request_id=pk, actor=request.user, reason=serializer.validated_data["reason"])
        return Response(s.RequestDetailOutput(_visible_request(request.user, pk)).data)


class RequestDecisionsApi(APIView):
    """Many decisions at once: the approval queue's bulk bar (`services.decide_many`) for automation."""

    @extend_schema(
        request=s.BulkDecisionInput,
        responses={200: s.BulkDecisionOutput, **CREATE_ERRORS},
        parameters=[DECISIONS_IDEMPOTENCY_HEADER],
        summary=f"Approve, or reject with one reason, up to {services.BULK_DECISION_LIMIT} requests at once "
        "(platform admins)",
        description=(
            "Each request is decided exactly as its own approve or reject endpoint would decide it (four "
            "eyes, quotas re-checked, events, provisioning), in the order given. One that cannot be decided "
            "(already decided, no longer fits a quota, your own, no such request, a decommission that needs "
            "an override reason) is listed under `skipped` with the reason a single decision would have "
            "given, and the others go on. Each requester gets one mail for all of theirs decided here."
        ),
    )
    def post(self, request):
        services.require_bulk_decider(request.user)  # who may, before what the body says
        answer = idempotency.answer_once(
            user=request.user,
            key=request.headers.get("Idempotency-Key"),
            kind="request.decisions",
            body=request.data,
            answer=lambda: self._decide(request),
        )
        return _answered(answer, status.HTTP_200_OK)

    @staticmethod
    def _decide(request) -> dict:
        serializer = s.BulkDecisionInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        outcome = services.decide_many(
            actor=request.user,
            request_ids=data["ids"],
            approve=data["decision"] == "approve",
            reason=data["reason"],
        )
        return s.BulkDecisionOutput(outcome).data


class RequestCancelApi(APIView):
    @extend_schema(
        request=None, responses={200: s.RequestDetailOutput, **ACTION_ERRORS}, summary="Cancel your own"
    )
    def post(self, request, pk: int):
        _visible_request(request.user, pk)
        services.cancel_request(request_id=pk, actor=request.user)
        return Response(s.RequestDetailOutput(_visible_request(request.user, pk)).data)


class ClusterListApi(generics.ListAPIView):
    serializer_class = s.ClusterOutput

    def get_queryset(self):
        return (
            access.clusters_visible_to(self.request.user).select_related("team", "account").order_by("name")
        )

    @extend_schema(responses={200: s.ClusterOutput(many=True), **LIST_ERRORS}, summary="Clusters you can see")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ClusterDetailApi(APIView):
    @extend_schema(responses={200: s.ClusterOutput, **ERRORS, 404: ErrorSerializer}, summary="One cluster")
    def get(self, request, pk: int):
        cluster = (
            access.clusters_visible_to(request.user).select_related("team", "account").filter(pk=pk).first()
        )
        if cluster is None:
            raise Http404
        return Response(s.ClusterOutput(cluster).data)
