"""Run the web server, a Celery worker and Celery beat together; one Ctrl-C stops all three.

Once /healthz says the database, the broker and a worker are fine, the address and the demo logins are
printed, so they are the last lines on screen rather than scrolled away behind the Celery banners.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess  # nosec B404 - starts our own processes with fixed argument lists
import sys
import time
import urllib.request

from django.conf import settings
from django.core.management.base import BaseCommand

from portal import demo

# Not up after this long: say what /healthz reports instead of waiting in silence.
READY_WARNING_SECONDS = 90


class Command(BaseCommand):
    help = "Start web + Celery worker + Celery beat for local use (what `make run` runs)."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--noreload", action="store_true", help="No autoreload for the web server")

    def handle(self, *args, addr: str, port: int, noreload: bool, **options):
        python = sys.executable
        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
        # Links in mails and Slack messages point here unless PORTAL_BASE_URL says otherwise.
        wildcard = addr in ("0.0.0.0", "::", "")  # noqa: S104  # nosec B104 - compared, not bound
        local_host = "127.0.0.1" if wildcard else f"[{addr}]" if ":" in addr else addr
        base_url = os.environ.get("PORTAL_BASE_URL") or f"http://{local_host}:{port}"
        env = {**os.environ, "PORTAL_BASE_URL": base_url}
        commands = {
            "web": [
                python,
                "manage.py",
                "runserver",
                f"{addr}:{port}",
                *(["--noreload"] if noreload else []),
            ],
            "worker": [
                python,
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                "--loglevel=INFO",
                "--concurrency=2",
                "--hostname=worker@%h",
            ],
            "beat": [
                python,
                "-m",
                "celery",
                "-A",
                "portal",
                "beat",
                # Its "Sending due task" lines every few seconds would push the ready message off screen.
                "--loglevel=WARNING",
                f"--schedule={settings.CELERY_BEAT_SCHEDULE_FILENAME}",
            ],
        }
        processes: dict[str, subprocess.Popen] = {}
        stopping = False

        def stop(signum=None, frame=None):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        # runserver answers each request in a new thread; persistent connections would stay open with
        # every finished thread (one per request) until PostgreSQL runs out of connections.
        web_env = {**env, "DATABASE_CONN_MAX_AGE": "0"}
        started = time.monotonic()
        for name, command in commands.items():
            # Own session: the terminal's Ctrl-C reaches only us, and we stop the children in order.
            processes[name] = subprocess.Popen(  # noqa: S603  # nosec B603
                command, start_new_session=True, env=web_env if name == "web" else env
            )
        self.stdout.write(f"Starting web, worker and beat for {base_url}/ …")
        exit_code = 0
        ready = warned = False
        while not stopping:
            for name, process in processes.items():
                if process.poll() is not None:
                    self.stderr.write(f"{name} exited with code {process.returncode}; stopping the rest.")
                    exit_code = 1
                    stopping = True
                    break
            if not (ready or stopping):
                health = _health(f"http://{local_host}:{port}/healthz")
                ready = bool(health and health.get("status") == "ok" and health["checks"]["worker"]["ok"])
                elapsed = time.monotonic() - started
                if ready:
                    self._say_ready(base_url, elapsed)
                elif elapsed > READY_WARNING_SECONDS and not warned:
                    warned = True
                    self.stderr.write(f"Not ready after {elapsed:.0f} s; /healthz says: {health}")
            time.sleep(0.5)
        self._stop_all(processes)
        self.stdout.write("Stopped web, worker and beat.")
        if exit_code:
            sys.exit(exit_code)

    def _say_ready(self, base_url: str, seconds: float) -> None:
        rule = "─" * 72
        lines = [rule, f"The portal is ready at {base_url}/ (web, worker and beat up in {seconds:.0f} s)"]
        if logins := demo.logins():
            lines += logins.lines()
        lines += ["Mails are printed below by the worker. Ctrl-C stops everything.", rule]
        self.stdout.write(self.style.SUCCESS("\n".join(lines)))
        self.stdout.flush()

    def _stop_all(self, processes: dict[str, subprocess.Popen]) -> None:
        for name, process in processes.items():
            if process.poll() is None:
                if name == "web":
                    # The autoreloader's child serves the port: stop the whole group.
                    os.killpg(process.pid, signal.SIGTERM)
                else:
                    # Celery's warm shutdown: the main process stops its own pool.
                    process.terminate()
        deadline = time.monotonic() + 15
        for process in processes.values():
            remaining = max(0.1, deadline - time.monotonic())
            try:
                process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _health(url: str) -> dict | None:
    """What /healthz answers (200 or 503), or None while the web server does not answer yet."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310  # nosec B310 - our own http URL
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            return json.loads(exc.read())
        except ValueError:
            return None
    except (OSError, ValueError):
        return None
