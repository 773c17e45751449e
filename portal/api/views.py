from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from portal import access, selectors
from portal.api.errors import ErrorSerializer
from portal.api.serializers import MembershipSerializer, MeSerializer, TeamSerializer
from portal.filters import MembershipFilterSet

ERRORS = {401: ErrorSerializer, 403: ErrorSerializer}
ERRORS_WITH_404 = {**ERRORS, 404: ErrorSerializer}
# Lists: 400 for a bad page_size, 404 for a page past the end.
LIST_ERRORS = {400: ErrorSerializer, **ERRORS_WITH_404}


class MeApi(APIView):
    @extend_schema(responses={200: MeSerializer, **ERRORS}, summary="The signed-in user, role and teams")
    def get(self, request):
        user = request.user
        user.is_platform_admin = access.is_platform_admin(user)
        user.teams = list(selectors.team_list(user=user).filter(memberships__user=user))
        return Response(MeSerializer(user).data)


class TeamListApi(generics.ListAPIView):
    serializer_class = TeamSerializer

    def get_queryset(self):
        return selectors.team_list(user=self.request.user)

    @extend_schema(responses={200: TeamSerializer(many=True), **LIST_ERRORS}, summary="Teams you can see")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class TeamDetailApi(generics.RetrieveAPIView):
    serializer_class = TeamSerializer

    def get_object(self):
        team = selectors.team_get(user=self.request.user, slug=self.kwargs["slug"])
        return selectors.team_list(user=self.request.user).get(pk=team.pk)

    @extend_schema(responses={200: TeamSerializer, **ERRORS_WITH_404}, summary="One team")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class MembershipListApi(generics.ListAPIView):
    serializer_class = MembershipSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = MembershipFilterSet  # `?team=`, and its OpenAPI parameter

    def get_queryset(self):
        return selectors.membership_list(user=self.request.user)

    @extend_schema(
        responses={200: MembershipSerializer(many=True), **LIST_ERRORS},
        summary="Team memberships you can see",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
