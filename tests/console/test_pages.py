"""The officer's pages in a real browser: login, inbox live, read, ack, ledger, compose."""

from __future__ import annotations

from console._desk import Setup
from playwright.async_api import expect


async def test_read_page(setup: Setup) -> None:
    bid = await setup.post()
    uz = setup.uz
    await uz.goto("/inbox")
    await expect(uz.page.locator(f"tr[data-bid='{bid}']")).to_be_visible()
    await uz.page.click(f"tr[data-bid='{bid}'] td.title a")
    await expect(uz.page.locator("h1")).to_have_text("GNSS interference over the South Caucasus")
