import json

from django.urls import reverse
from django.utils import timezone

from portal.celery import app
from portal.models import Heartbeat
from tests.conftest import client_for


def test_healthz_reports_database_and_broker(client, db):
    response = client.get(reverse("healthz"))
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True
    assert body["checks"]["worker"] == {"ok": False, "detail": "no heartbeat yet"}


def test_healthz_shows_a_fresh_worker_heartbeat(client, db):
    Heartbeat.objects.create(name="worker", last_seen=timezone.now())
    assert client.get(reverse("healthz")).json()["checks"]["worker"]["ok"] is True


def test_healthz_is_503_when_the_broker_is_unreachable(client, db, monkeypatch):
    # A real connection attempt to a port where nothing listens.
    monkeypatch.setattr(app.conf, "broker_url", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:1/0")  # Celery reads this before its conf
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["broker"]["ok"] is False
    assert "127.0.0.1" not in response.content.decode()  # no connection details on a public page


def test_html_404_page(member_a):
    response = client_for(member_a).get("/no-such-page/")
    assert response.status_code == 404
    assert "There is nothing here" in response.content.decode()


def test_server_errors_under_api_use_the_error_shape(rf):
    from portal.error_views import server_error

    response = server_error(rf.get("/api/v1/me/"))
    assert response.status_code == 500
    assert json.loads(response.content) == {
        "code": "server_error",
        "message": "Something went wrong on our side. It has been logged.",
        "field_errors": {},
    }


def test_security_headers(client, db):
    response = client.get(reverse("login"))
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
