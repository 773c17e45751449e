from __future__ import annotations

import pytest

from clusters.migration import inventory
from clusters.migration.models import Monolith
from portal.models import User
from tests.conftest import make_user


@pytest.fixture
def second_admin(db) -> User:
    return make_user("admin2", role=User.Role.PLATFORM_ADMIN)


@pytest.fixture
def monolith(admin) -> Monolith:
    return inventory.register_monolith(
        actor=admin, name="legacy", bootstrap="127.0.0.1:1", security_protocol=Monolith.Security.PLAINTEXT
    )


@pytest.fixture
def readings(monkeypatch):
    """The monolith's answers to the portal's readings (tests/clusters/migration/readings.py)."""
    from clusters.migration import adapters
    from tests.clusters.migration.readings import Readings

    fake = Readings()
    monkeypatch.setattr(adapters, "read_monolith", fake.read)
    monkeypatch.setattr(adapters, "sample_record_bytes", fake.sample)
    return fake
