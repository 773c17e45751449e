"""Every shell command README.md shows works exactly as printed, in a fresh copy of the checkout.

The commands are the lines of the README's ```sh blocks; a `code` span in the prose that looks like a
command but is in no block fails the test, so a new command cannot slip past it. The copy holds what a
clone would (tracked and new files, no var/), shares this checkout's .venv (installing it again would
take minutes; `make test` has just brought it up to date) and runs with a newcomer's environment: none
of the portal's variables, which the test run sets.

`make run` first (it sets the checkout up), then every other command in README order, `make clean`
last (it removes what the others need). Long-running and excluded commands are in LONG_RUNNING and
EXCLUDED below, each with its reason. Takes about two minutes.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.processes import ROOT, alive, descendants, free_port, healthz, kill_tree, newcomer_env

pytestmark = [pytest.mark.services, pytest.mark.slow]

README = ROOT / "README.md"
COMMAND_WORDS = ("make", ".venv/", "python", "docker", "cp ", "./", "bash", "pip", "celery", "manage.py")

# Started, used until healthy, stopped with Ctrl-C (SIGINT to its process group, as a terminal does).
# `make run PORT=8080` runs on a free port instead of 8080: other checkouts on this machine may hold 8080,
# and the command is otherwise the same. Plain `make run` gets its port the way make lets a user choose
# one, PORT in the environment, for the same reason (8000 is the default other checkouts use).
LONG_RUNNING = {"make run", "make run PORT=8080"}
EXCLUDED = {
    "make test": "this test is part of `make test`",
    "make test-fast": "a part of `make test`, which this test is part of",
    "docker compose up --build": "needs a Docker daemon and images from the internet, which test machines "
    "lack; tests/test_deploy_files.py checks docker-compose.yml and its inline Dockerfile",
}
# Benchmarks measure for minutes each (and would slow everything else `make test` runs alongside); their
# figures are read by people. Here each must start and parse its options: `--help` answers.
BENCH = re.compile(r"^\.venv/bin/python (bench/\w+\.py)$")
RUN_LAST = ("make clean",)


def readme_commands() -> list[str]:
    commands = []
    for block in re.findall(r"^ *```sh\n(.*?)^ *```", README.read_text(), flags=re.MULTILINE | re.DOTALL):
        commands += [
            line.strip() for line in block.splitlines() if line.strip() and not line.strip().startswith("#")
        ]
    return commands


def test_the_readme_has_no_command_outside_its_sh_blocks():
    commands = set(readme_commands())
    prose = re.sub(r"^ *```.*?^ *```", "", README.read_text(), flags=re.MULTILINE | re.DOTALL)
    spans = re.findall(r"`([^`\n]+)`", prose)
    loose = [span for span in spans if span.startswith(COMMAND_WORDS) and span not in commands]
    assert loose == [], f"put these in a ```sh block (this test runs those): {loose}"


def test_every_readme_command_is_run_or_excluded_with_a_reason():
    commands = readme_commands()
    assert {"make run", "make test", "make run PORT=8080"} <= set(commands)
    assert len(commands) == len(set(commands)), commands
    assert set(EXCLUDED) <= set(commands), "an exclusion for a command the README no longer shows"


@pytest.fixture
def fresh_copy(tmp_path) -> Path:
    venv = ROOT / ".venv"
    for stamp in (".installed-run", ".installed-test"):
        if (venv / stamp).stat().st_mtime < (ROOT / "pyproject.toml").stat().st_mtime:
            pytest.fail(f".venv/{stamp} is older than pyproject.toml: run `make setup-test` first")
    listed = (
        subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    copy = tmp_path / "checkout"
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    (copy / ".venv").symlink_to(venv)
    return copy


def _shell(command: str, copy: Path, env: dict, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        ["bash", "-c", command], cwd=copy, env=env, start_new_session=True, text=True, **kwargs
    )


def _run_until_healthy_then_stop(command: str, copy: Path, env: dict, log: Path) -> float:
    """Start a long-running command, wait for its ready message and /healthz, press Ctrl-C; its seconds to ready."""
    port = free_port()
    if command == "make run":
        env = {**env, "PORT": str(port)}
    else:
        command = re.sub(r"PORT=\d+", f"PORT={port}", command)
    started = time.monotonic()
    with log.open("w") as out:
        process = _shell(command, copy, env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 300
        while "The portal is ready" not in log.read_text():
            assert process.poll() is None, f"{command} ended:\n{log.read_text()[-4000:]}"
            assert time.monotonic() < deadline, f"{command} not ready in 300 s:\n{log.read_text()[-4000:]}"
            time.sleep(0.5)
        ready_seconds = time.monotonic() - started
        health = healthz(port)
        assert health and health["status"] == "ok" and health["checks"]["worker"]["ok"], health
        output = log.read_text()
        banner = output[output.index("The portal is ready") :]
        assert f"ready at http://127.0.0.1:{port}/ " in banner
        assert "Demo logins (password for all: kafka-demo-2026)" in banner and "ada    Ada Admin" in banner
        children = descendants(process.pid)
        os.killpg(process.pid, signal.SIGINT)  # the terminal's Ctrl-C reaches make and devstack
        process.wait(timeout=60)
        time.sleep(0.5)
        assert "Stopped web, worker and beat." in log.read_text(), log.read_text()[-3000:]
        assert [pid for pid in children if alive(pid)] == []
        assert healthz(port) is None
    finally:
        kill_tree(process)
    return ready_seconds


def _run(command: str, copy: Path, env: dict) -> str:
    process = _shell(command, copy, env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        output, _ = process.communicate(timeout=600)
    finally:
        kill_tree(process)
    assert process.returncode == 0, f"`{command}` failed ({process.returncode}):\n{output[-4000:]}"
    return output


def test_every_readme_command_works_as_printed_after_make_runs_setup(fresh_copy, tmp_path):
    copy, env = fresh_copy, newcomer_env(None)
    commands = readme_commands()
    first = [c for c in commands if c in LONG_RUNNING]
    middle = [c for c in commands if c not in LONG_RUNNING and c not in RUN_LAST]
    last = [c for c in commands if c in RUN_LAST]
    timings = {}
    for n, command in enumerate(first):
        timings[command] = _run_until_healthy_then_stop(command, copy, env, tmp_path / f"long-{n}.log")
    assert (copy / "var" / "local.env").exists()
    for command in middle + last:
        if command in EXCLUDED:
            continue
        if BENCH.match(command):
            assert "usage:" in _run(f"{command} --help", copy, env), command
            continue
        started = time.monotonic()
        output = _run(command, copy, env)
        timings[command] = time.monotonic() - started
        if command.startswith(".venv/bin/python manage.py chargeback"):
            assert "finalized" in output and len(list((copy / "reports").glob("*.csv"))) == 3, output
        if command == "make clean":
            assert not (copy / "var").exists()
    # `make format` found nothing to change (`make lint` passed before it).
    changed = [
        name
        for name in subprocess.run(
            ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True
        ).stdout.split()
        if (ROOT / name).is_file()
        and (copy / name).is_file()
        and (ROOT / name).read_bytes() != (copy / name).read_bytes()
    ]
    assert changed == [], changed
    print("\nREADME commands:", ", ".join(f"{c!r} {s:.0f} s" for c, s in timings.items()))
