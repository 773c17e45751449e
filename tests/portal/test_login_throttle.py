"""Password sign-in is throttled by account and by address, briefly, and says so."""

from __future__ import annotations

import time
import uuid

import pytest
from django.core.cache import caches
from django.test import Client, override_settings
from django.urls import reverse

from portal import login_throttle
from portal.models import AuditEvent
from tests.conftest import PASSWORD, make_user


def sign_in(username: str, password: str, address: str = "192.0.2.10", url: str = "login", **headers):
    client = Client(REMOTE_ADDR=address)
    response = client.post(reverse(url), {"username": username, "password": password}, headers=headers)
    return client, response


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_eight_wrong_passwords_then_the_right_one_does_not_sign_in(member_a):
    for _ in range(8):
        sign_in("member_a", "wrong")
    client, response = sign_in("member_a", PASSWORD)
    assert response.status_code == 429
    assert not signed_in(client)
    assert "Too many attempts, try again in 5 minutes." in response.content.decode()
    locked = AuditEvent.objects.filter(action="portal.login.locked")
    assert [event.details["by"] for event in locked] == ["account"]


def test_the_fifth_wrong_password_locks_and_says_so(member_a):
    for _ in range(4):
        _, response = sign_in("member_a", "wrong")
        assert response.status_code == 200
        assert "Please enter a correct username and password" in response.content.decode()
    _, response = sign_in("member_a", "wrong")
    assert response.status_code == 429
    assert "Too many attempts, try again in 5 minutes." in response.content.decode()


def test_the_lockout_is_short(member_a, monkeypatch):
    for _ in range(5):
        sign_in("member_a", "wrong")
    assert not signed_in(sign_in("member_a", PASSWORD)[0])
    later = time.time() + 301  # just over LOGIN_LOCKOUT_SECONDS (300)
    monkeypatch.setattr(login_throttle.time, "time", lambda: later)
    assert signed_in(sign_in("member_a", PASSWORD)[0])


def test_a_successful_sign_in_starts_the_account_count_again(member_a):
    for _ in range(3):
        for _ in range(4):
            sign_in("member_a", "wrong")
        assert signed_in(sign_in("member_a", PASSWORD)[0])


def test_one_address_guessing_many_accounts_is_throttled_but_others_are_not(member_a, member_b):
    for n in range(20):
        sign_in(f"guess{n}", "wrong", address="198.51.100.7")
    client, response = sign_in("member_a", PASSWORD, address="198.51.100.7")
    assert response.status_code == 429 and not signed_in(client)
    # The same person from their own address is not affected; nor is the account.
    assert signed_in(sign_in("member_a", PASSWORD, address="203.0.113.5")[0])
    assert AuditEvent.objects.filter(action="portal.login.locked", details__by="address").count() == 1


def test_the_admin_sign_in_is_throttled_too(db):
    make_user("root", role="platform_admin", is_staff=True, is_superuser=True)
    for _ in range(5):
        sign_in("root", "wrong", url="admin:login")
    client, response = sign_in("root", PASSWORD, url="admin:login")
    assert not signed_in(client)
    assert "Too many attempts, try again in 5 minutes." in response.content.decode()


def test_usernames_are_counted_whatever_their_case(member_a):
    for name in ("member_a", "MEMBER_A", " Member_A", "member_A", "mEmber_a"):
        sign_in(name, "wrong")
    assert not signed_in(sign_in("member_a", PASSWORD)[0])


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_behind_a_proxy_the_forwarded_address_is_throttled(member_a):
    # The proxy (REMOTE_ADDR 10.0.0.2) appends the client's address; a forged entry before it is ignored.
    for n in range(20):
        sign_in(f"guess{n}", "wrong", address="10.0.0.2", X_Forwarded_For=f"1.1.1.{n}, 198.51.100.7")
    _, locked = sign_in("member_a", PASSWORD, address="10.0.0.2", X_Forwarded_For="198.51.100.7")
    assert locked.status_code == 429
    client, _ = sign_in("member_a", PASSWORD, address="10.0.0.2", X_Forwarded_For="203.0.113.5")
    assert signed_in(client)


@override_settings(
    CACHES={
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
)
def test_an_unreachable_cache_does_not_lock_anybody_out(member_a, caplog):
    for _ in range(8):
        sign_in("member_a", "wrong")
    assert signed_in(sign_in("member_a", PASSWORD)[0])
    assert "the cache is unreachable" in caplog.text


@pytest.mark.services
def test_counters_are_shared_through_redis(member_a, settings):
    """With REDIS_URL (production), every web process sees the same counters."""
    if not settings.REDIS_URL:
        pytest.skip("needs Redis")
    redis = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": settings.REDIS_URL,
        "KEY_PREFIX": f"throttle-test-{uuid.uuid4().hex}",
    }
    with override_settings(CACHES={"default": redis}):
        try:
            for _ in range(5):
                sign_in("member_a", "wrong")
            assert login_throttle.seconds_locked("member_a", "192.0.2.10") > 290
            assert not signed_in(sign_in("member_a", PASSWORD)[0])
        finally:
            for key in caches["default"]._cache.get_client().scan_iter(f"{redis['KEY_PREFIX']}:*"):
                caches["default"]._cache.get_client().delete(key)
