"""`dockyard serve` prints a one-time sign-in link, never the token, and logs no /login query."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.ui.conftest import free_port

LINK = re.compile(r"sign in: (http://\S+/login\?code=\S+)")


class Output:
    """Every line the server prints (banner, logs, access log), read as it comes."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: re.Pattern[str] | str, timeout: float = 60) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                found = re.search(pattern, line)
                if found:
                    return found
            time.sleep(0.1)
        raise AssertionError(f"never printed {pattern!r}:\n" + "\n".join(self.lines))


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[tuple[Output, Path]]:
    home = tmp_path / "home"
    port = free_port()
    env = {
        **os.environ,
        "DOCKYARD_HOME": str(home),
        "DOCKYARD_RUNTIME": "process",
        "DOCKYARD_PORT": str(port),
        "PYTHONUNBUFFERED": "1",
        "COLUMNS": "400",  # one line per message: the banner's link must not wrap
    }
    env.pop("DOCKYARD_ADMIN_TOKEN", None)
    env.pop("DOCKYARD_DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-c", "from dockyard.cli.main import app; app()", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output = Output(process)
        output.wait_for("Uvicorn running|Application startup complete")
        yield output, home
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_serve_prints_a_one_time_link_and_logs_no_code(serve: tuple[Output, Path]) -> None:
    output, home = serve
    link = output.wait_for(LINK).group(1)
    token = (home / "admin-token").read_text().strip()
    assert token not in link
    sign_in_lines = [line for line in output.lines if "sign in:" in line]
    assert sign_in_lines and all(token not in line for line in sign_in_lines)

    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        answer = browser.get(link)
        assert answer.status_code == 303, answer.text
        assert "dockyard_session" in browser.cookies
        assert browser.get(link.split("/login")[0] + "/registry/services").status_code == 200
    with httpx.Client(follow_redirects=False, timeout=10) as again:
        assert again.get(link).status_code == 401  # used once already

    output.wait_for(r'"GET /login HTTP/1\.1" 401')
    code = link.split("code=", 1)[1]
    logged = "\n".join(output.lines)
    assert logged.count(code) == 1  # the banner's line, and no access log line
    assert "/login?" not in logged.replace(link, "")
