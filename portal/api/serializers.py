from rest_framework import serializers

from portal.models import Membership, Team, User


class TeamRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["slug", "name"]


class MeSerializer(serializers.ModelSerializer):
    full_name = serializers.CharField(source="get_full_name")
    is_platform_admin = serializers.BooleanField()
    teams = TeamRefSerializer(many=True)

    class Meta:
        model = User
        fields = ["id", "username", "full_name", "email", "role", "is_platform_admin", "teams"]


class TeamSerializer(serializers.ModelSerializer):
    member_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Team
        fields = ["slug", "name", "cost_center", "contact_email", "member_count", "created_at"]


class MembershipSerializer(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    username = serializers.CharField(source="user.username", read_only=True)
    full_name = serializers.CharField(source="user.get_full_name", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "team", "username", "full_name", "created_at"]
