"""A real exchange, the CAC States enrolled, consoles for KZ, UZ and the operator, and a
real browser: headless Debian Chromium driven by Playwright (never its own download)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from console._desk import CHROMIUM, Setup, open_desk
from playwright.async_api import async_playwright
from support import Harness

from exchange.console import Console


@pytest.fixture
async def setup(harness: Harness, tmp_path: Path) -> AsyncIterator[Setup]:
    await harness.cac()
    consoles = [
        Console(harness.members["KZ"].client, record_path=tmp_path / "kz-console.json"),
        Console(harness.members["UZ"].client, record_path=tmp_path / "uz-console.json"),
        Console(harness.admin),
    ]
    for c in consoles:
        await c.start(0)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM)
        try:
            kz, uz, op = [await open_desk(browser, c) for c in consoles]
            yield Setup(harness, browser, kz, uz, op)
        finally:
            await browser.close()
            for c in consoles:
                await c.stop()
