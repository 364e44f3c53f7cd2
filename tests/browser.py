"""A real headless Chromium (Debian's `chromium` package) driven by Playwright, for the tests
of what a browser shows. Playwright never downloads a browser here: it is handed the system's.

`open_page(browser, path)` loads a file and records every request, console message and page
error while it loads.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("DISTRICTBENCH_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser():
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.fail(f"no Chromium at {CHROMIUM}: install Debian's `chromium` package (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class LoadedPage:
    page: object
    requests: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)  # messages of level warning or error
    errors: list[str] = field(default_factory=list)


def open_page(browser, path: Path, width: int = 1280, height: int = 900) -> LoadedPage:
    page = browser.new_page(viewport={"width": width, "height": height})
    loaded = LoadedPage(page)
    page.on("request", lambda request: loaded.requests.append(request.url))
    page.on("console", lambda message: loaded.console.append(f"{message.type}: {message.text}")
            if message.type in ("error", "warning") else None)
    page.on("pageerror", lambda error: loaded.errors.append(str(error)))
    page.goto(path.resolve().as_uri(), wait_until="load")
    return loaded
