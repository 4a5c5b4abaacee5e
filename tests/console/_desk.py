"""Helpers of the console tests: a State's console with a logged-in browser tab."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page
from support import Harness

from exchange.bulletin.validate import new_bulletin
from exchange.console import Console

CHROMIUM = "/usr/bin/chromium"


@dataclass
class Desk:
    """One State's console and a browser tab logged in to it."""

    console: Console
    context: BrowserContext
    page: Page

    @property
    def url(self) -> str:
        return self.console.url

    async def goto(self, path: str) -> Any:
        return await self.page.goto(self.url + path)


@dataclass
class Setup:
    harness: Harness
    browser: Browser
    kz: Desk
    uz: Desk
    op: Desk

    async def post(self, sender: str = "KZ", **kw: Any) -> str:
        """``sender`` posts a bulletin through the SDK (not the console); its bid."""
        fields: dict[str, Any] = {
            "type": "advisory",
            "title": "GNSS interference over the South Caucasus",
            "body": {"summary": "Crews report GNSS spoofing above FL250."},
            "groups": ["cac-avsec"],
            "priority": "priority",
            "tlp": "green",
        }
        fields.update(kw)
        b = new_bulletin(iss=sender, now=int(time.time()), **fields)
        await self.harness.members[sender].client.post(b)
        return str(b["bid"])


async def open_desk(browser: Browser, console: Console, lang: str = "en-GB") -> Desk:
    context = await browser.new_context(locale=lang)
    page = await context.new_page()
    page.set_default_timeout(15_000)
    await page.goto(console.login_url)
    return Desk(console, context, page)
