"""Issue 18: the console shows a banner on every page when the desk's signing key or
its party's encryption key is near or past expiry (no browser needed: the HTML)."""

from __future__ import annotations

import time

import aiohttp
from support import Harness

from exchange.client.admin import Admin
from exchange.console import Console


async def _page(console: Console) -> str:
    jar = aiohttp.CookieJar(unsafe=True)  # the console listens on 127.0.0.1
    async with aiohttp.ClientSession(cookie_jar=jar) as s, s.get(console.login_url) as r:
        assert r.status == 200
        return await r.text()


async def test_banner_when_a_key_is_near_expiry(harness: Harness) -> None:
    kz, uz = await harness.enrol("KZ"), await harness.enrol("UZ")
    in_ten_days = int((time.time() + 10 * 86400) * 1000)
    await Admin(harness.admin).set_key_expiry(client_id="KZ/ops", expires_at=in_ten_days)
    consoles = [Console(kz.client), Console(uz.client)]
    for c in consoles:
        await c.start(0)
    try:
        kz_page, uz_page = [await _page(c) for c in consoles]
    finally:
        for c in consoles:
            await c.stop()
    assert 'class="alert key-expiry"' in kz_page
    assert "the signing key of KZ/ops expires in 10 day(s)" in kz_page
    assert "key-expiry" not in uz_page  # no date, no banner
