"""Helpers for tests that start the portal's real processes (devstack, `make run`) and talk to them over HTTP."""

from __future__ import annotations

import contextlib
import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, stack = set(), [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.add(child)
            stack.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def kill_tree(process: subprocess.Popen) -> None:
    """SIGKILL a process and everything it started (children in their own sessions included)."""
    if process.poll() is not None:
        return
    for pid in descendants(process.pid):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def healthz(port: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:  # 503: something is down, the body says what
        return json.loads(exc.read())
    except (OSError, ValueError):
        return None


def portal_variables() -> set[str]:
    """Every variable `.env.example` documents (the portal's own settings, the Makefile's, the tests')."""
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))


def newcomer_env(var_dir: Path | None, **overrides: str) -> dict[str, str]:
    """The environment of someone who just cloned the repository: none of the portal's variables set
    (the test run sets several, e.g. DATABASE_URL and DEBUG) and no outer make's flags; its run-time
    folder is `var_dir` (None: the checkout's own var/)."""
    dropped = portal_variables() | {"DJANGO_SETTINGS_MODULE", "MAKEFLAGS", "MAKELEVEL", "MFLAGS"}
    env = {key: value for key, value in os.environ.items() if key not in dropped}
    if var_dir is not None:
        env["PORTAL_VAR_DIR"] = str(var_dir)
    env.update(overrides)
    return env


class PortalSession:
    """A browser-like HTTP client of a running portal: cookies, Django's CSRF token, form and JSON posts."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect()
        )

    def _csrf(self) -> str:
        return next((c.value for c in self.cookies if c.name == "csrftoken"), "")

    def request(self, method: str, path: str, *, form=None, json_body=None, timeout=60) -> tuple[int, bytes]:
        headers = {"X-CSRFToken": self._csrf()} if method != "GET" else {}
        data = None
        if form is not None:
            data = urllib.parse.urlencode({**form, "csrfmiddlewaretoken": self._csrf()}).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif json_body is not None:
            data = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(  # noqa: S310 - http(s) only: base_url is the portal under test
            self.base_url + path, data=data, method=method, headers=headers
        )
        try:
            with self.opener.open(request, timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def login(self, username: str, password: str) -> None:
        self.request("GET", "/login/")
        status, body = self.request("POST", "/login/", form={"username": username, "password": password})
        assert status == 302, f"login as {username} answered {status}: {body[:500]!r}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Report 302s as they are (a form post's answer), like Django's test client."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None

    def http_error_302(self, req, fp, code, msg, headers):
        return fp

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302
