"""Fixtures of the browser tests: the app under uvicorn on a loopback port over a demo ledger,
and Debian's headless Chromium driven by selenium through Debian's chromedriver.

Chromium missing is a failure, not a skip: install it with
    apt-get install -y chromium chromium-driver fonts-noto-cjk
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import orjson
import pytest
import uvicorn

from ledger.config import Policy
from tests.api.conftest import TOKEN, ingest_lines, write_demo_records
from yidi.api import create_app
from yidi.embedded import EmbeddedBackend
from yidi.ingest import read_lines

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
INSTALL = "apt-get install -y chromium chromium-driver fonts-noto-cjk"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
POLL_MS = 500  # the pages poll faster than the default 2 s, so the tests wait less
WINDOW = (1440, 2000)


class Server:
    def __init__(self, base: str) -> None:
        self.base = base

    def get(self, path: str, **params: Any) -> Any:
        query = urllib.parse.urlencode([(k, x) for k, v in params.items() if v is not None
                                        for x in (v if isinstance(v, list) else [v])])
        with urllib.request.urlopen(f"{self.base}{path}{'?' + query if query else ''}", timeout=30) as response:
            return orjson.loads(response.read())

    def post_records(self, records: list[Any]) -> Any:
        request = urllib.request.Request(f"{self.base}/api/records", data=orjson.dumps(records), method="POST",
                                         headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return orjson.loads(response.read())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """uvicorn serving the dashboard over the demo's ledger, writes enabled (TOKEN)."""
    work = tmp_path_factory.mktemp("browser")
    home = work / "ledger"
    home.mkdir()
    records = write_demo_records(work / "demo-records.jsonl")
    policy = Policy()
    backend = EmbeddedBackend(home, policy)
    with open(records, "rb") as handle:
        ingest_lines(backend, read_lines(handle))
    backend.close()
    app = create_app(lambda: EmbeddedBackend(home, policy), policy, TOKEN, poll_ms=POLL_MS)
    port = free_port()
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=uv.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield Server(f"http://127.0.0.1:{port}")
    uv.should_exit = True
    thread.join(timeout=30)


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.fail(f"{', '.join(missing)} not found: the browser tests need Debian's Chromium ({INSTALL})")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--hide-scrollbars", f"--window-size={WINDOW[0]},{WINDOW[1]}", "--lang=zh-CN",
                     f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_window_size(*WINDOW)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()
