import hashlib

from django.urls import reverse

from portal import services
from portal.models import ApiToken, AuditEvent
from tests.conftest import client_for


def test_creating_a_token_shows_the_key_once_and_stores_only_a_hash(member_a):
    client = client_for(member_a)
    response = client.post(reverse("portal:token-list"), {"name": "CI"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    token = ApiToken.objects.get(user=member_a)
    start = body.index('data-testid="new-token">') + len('data-testid="new-token">')
    raw_key = body[start : body.index("<", start)]
    assert token.key_hash == hashlib.sha256(raw_key.encode()).hexdigest()
    assert raw_key not in client.get(reverse("portal:token-list")).content.decode()
    assert AuditEvent.objects.filter(action="portal.api_token.created", actor=member_a).count() == 1


def test_token_name_is_required(member_a):
    response = client_for(member_a).post(reverse("portal:token-list"), {"name": "   "})
    assert "This field is required" in response.content.decode() or "Give the token a name" in (
        response.content.decode()
    )
    assert not ApiToken.objects.exists()


def test_token_authenticates_until_revoked(member_a):
    token, raw_key = services.api_token_create(user=member_a, name="t")
    api = client_for(None)
    headers = {"Authorization": f"Bearer {raw_key}"}
    assert api.get(reverse("api:me"), headers=headers).json()["username"] == "member_a"
    token.refresh_from_db()
    assert token.last_used_at is not None

    client_for(member_a).post(reverse("portal:token-revoke", args=[token.pk]))
    response = api.get(reverse("api:me"), headers=headers)
    assert response.status_code == 401
    assert response.json()["message"] == "This API token is not valid or has been revoked."


def test_nobody_revokes_someone_elses_token(member_a, member_b, admin):
    token, _ = services.api_token_create(user=member_a, name="t")
    for other in (member_b, admin):
        response = client_for(other).post(reverse("portal:token-revoke", args=[token.pk]))
        assert response.status_code == 403
    token.refresh_from_db()
    assert token.revoked_at is None


def test_revoking_twice_is_harmless(member_a):
    token, _ = services.api_token_create(user=member_a, name="t")
    services.api_token_revoke(user=member_a, token_id=token.pk)
    services.api_token_revoke(user=member_a, token_id=token.pk)
    assert AuditEvent.objects.filter(action="portal.api_token.revoked").count() == 1


def test_token_of_deactivated_user_is_refused(member_a):
    _, raw_key = services.api_token_create(user=member_a, name="t")
    member_a.is_active = False
    member_a.save()
    response = client_for(None).get(reverse("api:me"), headers={"Authorization": f"Bearer {raw_key}"})
    assert response.status_code == 401
