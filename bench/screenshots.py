"""Screenshots of the console's main pages for docs/console.md and the README.

Starts a throwaway exchange on loopback (SQLite in a temporary folder), enrols the demo's
parties, posts a few bulletins, starts KZ's, UZ's and the operator's consoles and takes
screenshots with Debian's chromium (Playwright, ``executable_path``). Nothing is kept
but the PNG files.

    python bench/screenshots.py [--out docs/img]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.async_api import Page, async_playwright

from exchange.bulletin.validate import new_bulletin
from exchange.cli.demo import enrol, threat_assessment
from exchange.client import ExchangeClient
from exchange.config import ServerConfig
from exchange.console import Console
from exchange.crypto.keys import Ed25519Signer
from exchange.keyfiles import read_json, read_profile
from exchange.node import init, open_exchange, start

CHROMIUM = "/usr/bin/chromium"


def _risk_assessment(now: int) -> dict[str, Any]:
    b = threat_assessment(now)
    b["body"]["scope"] = {
        "firs": ["UAAA"],
        "aerodromes": ["UAAA", "UCFM"],
        "flight_levels": {"lower": 0, "upper": 150},
    }
    b["body"]["risk"] = {
        "scenario": {
            "target": "arriving and departing passenger aircraft at UAAA",
            "method": "MANPADS launched from under the approach path",
            "perpetrator": "non-state armed group with a shoulder-launched system",
        },
        "likelihood": "medium",
        "consequence": "very-high",
        "current_measures": "Patrols of the approach area to 5 NM; reporting line to the "
        "KZ AVSEC duty officer.",
        "residual_vulnerability": "medium",
        "residual_risk": "high",
        "additional_mitigation": "Extend patrols to 10 NM; steep approaches; brief crews.",
    }
    b["handling"] = "RESTRICTED: not for onward distribution outside AVSEC authorities"
    return new_bulletin(
        **{k: v for k, v in b.items() if k not in {"v", "iss", "iat"}}, iss="KZ", now=now
    )


async def _post(console: Console, bulletin: dict[str, Any]) -> str:
    assert console.state is not None
    receipt = await console.client.post(bulletin)
    console.state.record.add_sent(bulletin, receipt)
    return receipt.bid


async def _shoot(page: Page, url: str, path: Path, *, full: bool = False) -> None:
    await page.goto(url)
    await page.wait_for_load_state("networkidle")
    await page.screenshot(path=str(path), full_page=full)
    print(f"wrote {path}")


async def main(out: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="avsec-shots-") as tmp:
        cfg = ServerConfig(
            db_url=f"sqlite+aiosqlite:///{Path(tmp) / 'x.db'}",
            keys_dir=Path(tmp) / "keys",
            exchange_id="avsec-demo",
            port=0,
        )
        folder = await init(cfg, operator_name="Demo exchange operator")
        server = await start(await open_exchange(cfg), "127.0.0.1", 0)
        profile = read_profile(folder)
        admin = ExchangeClient(
            server_url=server.url,
            client_id=profile.client_id,
            exchange_id=profile.exchange_id,
            signer=Ed25519Signer.from_jwk(read_json(folder / "signing.jwk")),
            server_kid=profile.server_kid,
        )
        clients = await enrol(admin, server.url)
        consoles = {p: Console(clients[p]) for p in ("KZ", "UZ")}
        consoles["OP"] = Console(admin)
        for c in consoles.values():
            await c.start(0)
        try:
            await _scenes(consoles, clients, out)
        finally:
            for c in consoles.values():
                await c.stop()
            for client in clients.values():
                await client.close()
            await admin.close()
            await server.stop()


async def _scenes(
    consoles: dict[str, Console], clients: dict[str, ExchangeClient], out: Path
) -> None:
    now = int(time.time())
    kz, uz = consoles["KZ"], consoles["UZ"]
    ta = await _post(kz, _risk_assessment(now))
    others = [
        (
            "GE",
            "advisory",
            "GNSS interference over the South Caucasus",
            "priority",
            "green",
            {
                "summary": "Crews report GNSS spoofing above FL250 in the Tbilisi and Baku FIRs.",
                "categories": ["gnss-interference"],
                "locations": ["UGGG", "UBBA"],
            },
            "en",
        ),
        (
            "TJ",
            "request",
            "Запрос: обнаружение БПЛА в аэропортах группы",
            "routine",
            "amber",
            {
                "question": "Какие государства группы развернули средства обнаружения БПЛА в "
                "международных аэропортах?"
            },
            "ru",
        ),
        (
            "KG",
            "security-measure",
            "Additional screening of hold baggage at Manas (UCFM)",
            "flash",
            "amber+strict",
            {
                "measure": "All hold baggage is screened again by EDS Standard 3.",
                "applies_to": {"airports": ["UCFM"]},
                "effective_from": now,
            },
            "en",
        ),
    ]
    for iss, type_, title, prio, tlp, body, lang in others:
        b = new_bulletin(
            iss=iss,
            type=type_,
            title=title,
            body=body,
            now=now,
            groups=["cac-avsec"],
            priority=prio,
            tlp=tlp,
            lang=lang,
        )
        await clients[iss].post(b)
    await asyncio.sleep(1.0)  # the consoles' streams bring them in
    assert uz.state is not None
    await uz.state.ack(ta, "received")
    await uz.state.ack(ta, "read")
    for party in ("GE", "AZ"):
        await clients[party].ack(ta, "received")

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM)
        try:
            ctx = await browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
            page = await ctx.new_page()
            await page.goto(uz.login_url)
            await _shoot(page, uz.url + "/inbox", out / "console-inbox.png")
            await _shoot(page, uz.url + f"/b/{ta}", out / "console-read.png", full=True)
            await _shoot(page, uz.url + "/directory", out / "console-directory.png")
            await page.click("form.lang button[value=ru]")
            await _shoot(page, uz.url + "/inbox", out / "console-inbox-ru.png")
            await page.click("form.lang button[value=en]")
            await page.goto(kz.login_url)
            await _shoot(page, kz.url + f"/sent/{ta}", out / "console-ledger.png")
            await page.goto(kz.url + "/compose?type=threat-assessment")
            await page.fill("#f-title", "Laser illumination of arrivals at Tashkent (UTTT)")
            await page.check("input[name=groups][value=cac-avsec]")
            await page.check("input[name=priority][value=priority]")
            await page.fill("#f-summary", "Three laser illuminations of arriving aircraft.")
            await page.select_option("#f-threat_level", "moderate")
            await page.check("input[name='body.categories'][value=laser]")
            await page.fill("#f-locations", "UTTT")
            await page.set_viewport_size({"width": 1280, "height": 1500})
            await page.evaluate("window.scrollTo(0, 0)")
            await page.screenshot(path=str(out / "console-compose.png"), full_page=False)
            await page.set_viewport_size({"width": 1280, "height": 800})
            print(f"wrote {out / 'console-compose.png'}")
            await page.goto(consoles["OP"].login_url)
            await _shoot(page, consoles["OP"].url + "/admin", out / "console-operator.png")
        finally:
            await browser.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    asyncio.run(main(out))
