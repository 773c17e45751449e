"""The header's links (base.html): reversed once per process, not with 16 `{% url %}` on every page."""

from __future__ import annotations

from django import urls

from portal.context_processors import MENU
from tests.conftest import client_for


def test_the_menu_links_are_not_reversed_on_every_page(admin, monkeypatch):
    client = client_for(admin)
    page_url = urls.reverse("portal:team-list")
    client.get(page_url)
    reversed_names = []
    real_reverse = urls.reverse

    def recording_reverse(viewname, *args, **kwargs):
        reversed_names.append(viewname)
        return real_reverse(viewname, *args, **kwargs)

    monkeypatch.setattr(urls, "reverse", recording_reverse)
    page = client.get(page_url).content.decode()
    assert not set(reversed_names) & set(MENU.values())
    for key in (
        "dashboard",
        "teams",
        "requests",
        "approvals",
        "clusters",
        "traffic",
        "drift",
        "finance",
        "audit",
    ):
        assert f'href="{real_reverse(MENU[key])}"' in page
    assert f'action="{real_reverse(MENU["logout"])}"' in page
