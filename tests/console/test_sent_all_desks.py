"""The Sent page lists every bulletin the State posted (``GET /v1/sent``), also those a
CLI or another desk posted, with their acknowledgements counted; a bulletin this console
did not post shows as sealed, since a sender holds no key to its own envelope."""

from __future__ import annotations

import time
from pathlib import Path

from console._desk import CHROMIUM, open_desk
from playwright.async_api import async_playwright, expect
from support import start_harness

from exchange.bulletin.validate import new_bulletin
from exchange.console import Console


async def test_bulletins_posted_elsewhere_are_listed(tmp_path: Path, db_url: str) -> None:
    h = await start_harness(tmp_path, db_url)
    console = Console(h.admin)
    try:
        members = await h.cac()
        kz = members["KZ"].client
        b = new_bulletin(
            iss="KZ",
            type="advisory",
            title="Posted with the CLI, not the console",
            now=int(time.time()),
            body={"summary": "Seen on the Sent page all the same."},
            groups=["cac-avsec"],
            priority="immediate",
            tlp="green",
        )
        receipt = await kz.post(b)  # through the SDK, as the CLI does: no console record
        await members["UZ"].client.ack(receipt.bid, "read")
        console = Console(kz)
        await console.start(0)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM)
            try:
                desk = await open_desk(browser, console)
                await desk.goto("/sent")
                row = desk.page.locator(f"tr[data-bid='{receipt.bid}']")
                await expect(row).to_contain_text("Sealed")
                await expect(row).to_contain_text("1 of 6")  # UZ of AZ, GE, KG, TJ, UZ, ICAO
                assert b["title"] not in await desk.page.content()
                await row.locator("a").click()
                await expect(desk.page.locator("tr[data-party=UZ]")).to_be_visible()
            finally:
                await browser.close()
    finally:
        await console.stop()
        await h.close()
