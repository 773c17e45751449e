"""Run the web server, a Celery worker and Celery beat together; one Ctrl-C stops all three."""

from __future__ import annotations

import os
import signal
import subprocess  # nosec B404 - starts our own processes with fixed argument lists
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand


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
                "--loglevel=INFO",
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
        for name, command in commands.items():
            # Own session: the terminal's Ctrl-C reaches only us, and we stop the children in order.
            processes[name] = subprocess.Popen(  # noqa: S603  # nosec B603
                command, start_new_session=True, env=web_env if name == "web" else env
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Portal running at {base_url}/  (worker and beat started; Ctrl-C stops everything)"
            )
        )
        exit_code = 0
        while not stopping:
            for name, process in processes.items():
                if process.poll() is not None:
                    self.stderr.write(f"{name} exited with code {process.returncode}; stopping the rest.")
                    exit_code = 1
                    stopping = True
                    break
            time.sleep(0.5)
        self._stop_all(processes)
        self.stdout.write("Stopped web, worker and beat.")
        if exit_code:
            sys.exit(exit_code)

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
