"""REST API for requests and clusters: thin classes over clusters.services and portal.access."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from clusters import idempotency, services
from clusters.api import serializers as s
from clusters.models import Request
from portal import access
from portal.api.errors import ErrorSerializer

ERRORS = {401: ErrorSerializer, 403: ErrorSerializer}
LIST_ERRORS = {400: ErrorSerializer, **ERRORS, 404: ErrorSerializer}
CREATE_ERRORS = {400: ErrorSerializer, **ERRORS, 409: ErrorSerializer}
ACTION_ERRORS = {400: ErrorSerializer, **ERRORS, 404: ErrorSerializer, 409: ErrorSerializer}
IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key", str, location=OpenApiParameter.HEADER, required=False,
    description="Retry-safe creates: the same key and body return the first answer instead of a new request.",
)  # fmt: skip


class _CreateRequestApi(APIView):
    input_serializer: type[s.serializers.Serializer]
    kind: str

    def prepare(self, user, data) -> services.Prepared:
        raise NotImplementedError

    def post(self, request):
        key = request.headers.get("Idempotency-Key")
        print_ = idempotency.fingerprint(self.kind, request.data)
        if key is not None:
            key = idempotency.check_key(key)
            earlier = idempotency.replay(user=request.user, key=key, print_=print_)
            if earlier is not None:
                return Response(s.RequestDetailOutput(earlier).data, status=status.HTTP_201_CREATED)
        serializer = self.input_serializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        prepared = self.prepare(request.user, serializer.validated_data)
        if key is None:
            created = services.submit_request(actor=request.user, prepared=prepared)
        else:
            created, _ = idempotency.submit_once(user=request.user, key=key, print_=print_, prepared=prepared)
        return Response(s.RequestDetailOutput(created).data, status=status.HTTP_201_CREATED)


def _create_schema(serializer, summary):
    return extend_schema(
        request=serializer,
        responses={201: s.RequestDetailOutput, **CREATE_ERRORS},
        parameters=[IDEMPOTENCY_HEADER],
        summary=summary,
    )


class ClusterRequestCreateApi(_CreateRequestApi):
    input_serializer = s.ClusterRequestInput
    kind = Request.Kind.CLUSTER_CREATE

    def prepare(self, user, data):
        return services.prepare_cluster_create(actor=user, **data)

    @_create_schema(s.ClusterRequestInput, "Request a new MSK Serverless cluster")
    def post(self, request):
        return super().post(request)


class TopicRequestCreateApi(_CreateRequestApi):
    input_serializer = s.TopicRequestInput
    kind = Request.Kind.TOPIC_CREATE

    def prepare(self, user, data):
        entries = [services.AccessInput(**entry) for entry in data.pop("access", [])]
        return services.prepare_topic_create(actor=user, access_entries=entries, **data)

    @_create_schema(s.TopicRequestInput, "Request a topic (optionally with access for its clients)")
    def post(self, request):
        return super().post(request)


class TopicUpdateRequestCreateApi(_CreateRequestApi):
    input_serializer = s.TopicUpdateInput
    kind = Request.Kind.TOPIC_UPDATE

    def prepare(self, user, data):
        return services.prepare_topic_update(actor=user, **data)

    @_create_schema(s.TopicUpdateInput, "Request a change to a topic (partitions up, configs)")
    def post(self, request):
        return super().post(request)


class TopicDeleteRequestCreateApi(_CreateRequestApi):
    input_serializer = s.TopicDeleteInput
    kind = Request.Kind.TOPIC_DELETE

    def prepare(self, user, data):
        return services.prepare_topic_delete(actor=user, **data)

    @_create_schema(s.TopicDeleteInput, "Request the deletion of a topic")
    def post(self, request):
        return super().post(request)


class AccessRequestCreateApi(_CreateRequestApi):
    input_serializer = s.AccessRequestInput
    kind = Request.Kind.ACCESS_GRANT

    def prepare(self, user, data):
        entry = services.AccessInput(
            principal_arn=data.pop("principal_arn"), produce=data.pop("produce"), consume=data.pop("consume"),
            consumer_group_prefix=data.pop("consumer_group_prefix"),
        )  # fmt: skip
        return services.prepare_access_grant(actor=user, entry=entry, **data)

    @_create_schema(s.AccessRequestInput, "Request produce/consume access for an IAM role")
    def post(self, request):
        return super().post(request)


class AccessRevokeRequestCreateApi(_CreateRequestApi):
    input_serializer = s.AccessRevokeInput
    kind = Request.Kind.ACCESS_REVOKE

    def prepare(self, user, data):
        return services.prepare_access_revoke(actor=user, **data)

    @_create_schema(s.AccessRevokeInput, "Request the removal of an access grant")
    def post(self, request):
        return super().post(request)


class DecommissionRequestCreateApi(_CreateRequestApi):
    input_serializer = s.DecommissionInput
    kind = Request.Kind.CLUSTER_DECOMMISSION

    def prepare(self, user, data):
        return services.prepare_cluster_decommission(actor=user, **data)

    @_create_schema(s.DecommissionInput, "Request the decommissioning of a cluster")
    def post(self, request):
        return super().post(request)


class RequestListApi(generics.ListAPIView):
    serializer_class = s.RequestOutput

    def get_queryset(self):
        requests = access.requests_visible_to(self.request.user).select_related(
            "team", "requested_by", "decided_by", "approved_by_rule"
        )
        filters = s.RequestFilterInput(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        for name, value in filters.validated_data.items():
            if value:
                requests = requests.filter(**{"team__slug" if name == "team" else name: value})
        return requests.order_by("-created_at", "-id")

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=Request.Status.values),
            OpenApiParameter("kind", str, enum=Request.Kind.values),
            OpenApiParameter("team", str, description="Team slug"),
        ],
        responses={200: s.RequestOutput(many=True), **LIST_ERRORS},
        summary="Requests you can see",
    )
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
    @extend_schema(request=None, responses={200: s.RequestDetailOutput, **ACTION_ERRORS}, summary="Approve")
    def post(self, request, pk: int):
        _visible_request(request.user, pk)
        approved = services.approve_request(request_id=pk, actor=request.user)
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
