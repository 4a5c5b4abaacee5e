"""A recipient overdue on a bulletin the State sent is shown on its Sent page (the
stream's escalation messages), and its ledger row is marked overdue."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from console._desk import CHROMIUM, open_desk
from playwright.async_api import async_playwright, expect
from support import start_harness

from exchange.bulletin.validate import new_bulletin
from exchange.console import Console


async def test_overdue_recipients_are_shown_to_the_sender(tmp_path: Path, db_url: str) -> None:
    deadlines = {"flash": 1, "immediate": 3600, "priority": 3600, "routine": 3600}
    h = await start_harness(tmp_path, db_url, ack_deadlines=deadlines, escalation_interval=0.2)
    console = Console(h.admin)
    try:
        members = await h.cac()
        kz = members["KZ"].client
        console = Console(kz)
        await console.start(0)
        assert console.state is not None
        b = new_bulletin(
            iss="KZ",
            type="advisory",
            title="Flash: runway incursion drill",
            now=int(time.time()),
            body={"summary": "Acknowledge within a second."},
            groups=["cac-avsec"],
            priority="flash",
            tlp="green",
        )
        receipt = await kz.post(b)
        console.state.record.add_sent(b, receipt)
        await members["UZ"].client.ack(receipt.bid, "received")
        for _ in range(100):
            if {e.get("party") for e in console.state.escalations} >= {"AZ", "GE", "KG", "TJ"}:
                break
            await asyncio.sleep(0.1)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM)
            try:
                desk = await open_desk(browser, console)
                await desk.goto("/sent")
                alert = desk.page.locator("#escalations")
                await expect(alert).to_contain_text("AZ has not acknowledged")
                await expect(alert).to_contain_text("flash")
                assert "UZ has not" not in await alert.inner_text()
                await desk.goto(f"/sent/{receipt.bid}")
                await expect(desk.page.locator("tr[data-party=AZ]")).to_have_class("overdue")
                await expect(desk.page.locator("tr[data-party=UZ]")).not_to_have_class("overdue")
            finally:
                await browser.close()
    finally:
        await console.stop()
        await h.close()
