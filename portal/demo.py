"""The demo logins `seed_demo` created, remembered so that `make run` can print them once everything is
up and the login page can show them. Shown only with DEBUG on: never on a production portal, even one
where somebody ran `seed_demo --force`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings


@dataclass(frozen=True)
class DemoLogin:
    username: str
    name: str
    role: str  # "member of payments", "platform admin", "finance"


@dataclass(frozen=True)
class DemoLogins:
    password: str
    logins: tuple[DemoLogin, ...]

    def lines(self) -> list[str]:
        return [f"Demo logins (password for all: {self.password})"] + [
            f"  {login.username:<6} {login.name:<14} {login.role}" for login in self.logins
        ]


def _file() -> Path:
    return settings.VAR_DIR / "demo-logins.json"


def remember(demo: DemoLogins) -> None:
    _file().parent.mkdir(parents=True, exist_ok=True)
    _file().write_text(
        json.dumps({"password": demo.password, "logins": [login.__dict__ for login in demo.logins]}, indent=1)
    )


def logins() -> DemoLogins | None:
    """The demo logins of this checkout, or None (DEBUG off, or no demo data was made here)."""
    if not settings.DEBUG:
        return None
    try:
        data = json.loads(_file().read_text())
        return DemoLogins(data["password"], tuple(DemoLogin(**login) for login in data["logins"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
