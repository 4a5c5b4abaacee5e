"""The console's own defences, tried in a real browser and by hand-made requests:
the launch token, the cookie, Host, Origin and CSRF checks, the CSP, hostile bulletin
content (nothing runs, nothing is injected), and no private key in any answer."""

from __future__ import annotations

import re

import aiohttp
import pytest
from aiohttp import web
from console._desk import Setup
from playwright.async_api import expect

from exchange.console.security import COOKIE, CSP

PAYLOADS = [
    "<script>window.__xss = 1; alert(1)</script>",
    '<img src=x onerror="window.__xss = 2; alert(2)">',
    '<a href="javascript:window.__xss = 3">click me</a>',
    '"><svg onload="window.__xss = 4">',
    "</textarea><script>window.__xss = 5</script>",
    "{{ 7*7 }} {% raw %} ${7*7}",
    '<iframe src="javascript:alert(6)"></iframe>',
    "<style>body{display:none}</style>",
]


async def _session(setup: Setup) -> tuple[str, str]:
    """The UZ console's session cookie and CSRF token, as the logged-in browser has them."""
    cookies = await setup.uz.context.cookies()
    session = next(c["value"] for c in cookies if c["name"] == COOKIE)
    return session, setup.uz.console.secrets.csrf


async def test_launch_token_cookie_and_refusals(setup: Setup) -> None:
    cookies = await setup.uz.context.cookies()
    mine = next(c for c in cookies if c["name"] == COOKIE)
    assert mine["httpOnly"] is True
    assert mine["sameSite"] == "Strict"
    assert mine["value"] != setup.uz.console.secrets.launch_token  # the token is not reused
    assert setup.uz.page.url.endswith("/inbox")  # the token left the address bar

    context = await setup.browser.new_context()
    page = await context.new_page()
    url = setup.uz.console.url
    for path, status in [("/inbox", 401), ("/compose", 401), ("/b/x", 401), ("/events", 401)]:
        response = await page.goto(url + path)
        assert response is not None and response.status == status, path
    response = await page.goto(url + "/login?token=wrong")
    assert response is not None and response.status == 403
    response = await page.goto(url + "/login")
    assert response is not None and response.status == 403
    assert not [c for c in await context.cookies() if c["name"] == COOKIE]
    await context.close()


async def test_every_answer_has_a_strict_csp(setup: Setup) -> None:
    for path in ["/inbox", "/compose", "/sent", "/directory", "/static/console.js", "/nowhere"]:
        response = await setup.uz.goto(path)
        headers = response.headers
        assert headers["content-security-policy"] == CSP, path
        assert "unsafe-inline" not in CSP and "unsafe-eval" not in CSP
        assert "script-src 'self'" in CSP and "frame-ancestors 'none'" in CSP
        assert headers["x-content-type-options"] == "nosniff"


async def test_wrong_host_is_refused(setup: Setup) -> None:
    """DNS rebinding: a page of evil.example resolving to 127.0.0.1 gets nothing."""
    session, _ = await _session(setup)
    async with (
        aiohttp.ClientSession() as s,
        s.get(
            setup.uz.url + "/inbox",
            headers={"Host": "evil.example", "Cookie": f"{COOKIE}={session}"},
        ) as r,
    ):
        assert r.status == 421


@pytest.mark.parametrize(
    ("origin", "with_csrf", "status"),
    [
        (None, True, 403),
        ("http://evil.example", True, 403),
        ("null", True, 403),
        ("http://127.0.0.1:1", True, 403),
        ("SAME", False, 403),
        ("SAME", True, 303),
    ],
)
async def test_state_changing_requests_need_origin_and_csrf(
    setup: Setup, origin: str | None, with_csrf: bool, status: int
) -> None:
    bid = await setup.post()
    uz = setup.uz
    await uz.goto("/inbox")
    await expect(uz.page.locator(f"tr[data-bid='{bid}']")).to_be_visible()
    session, csrf = await _session(setup)
    headers = {"Cookie": f"{COOKIE}={session}"}
    if origin is not None:
        headers["Origin"] = uz.url if origin == "SAME" else origin
    form = {"status": "read", **({"csrf": csrf} if with_csrf else {})}
    async with (
        aiohttp.ClientSession() as s,
        s.post(f"{uz.url}/b/{bid}/ack", data=form, headers=headers, allow_redirects=False) as r,
    ):
        assert r.status == status
    state = uz.console.state
    assert state is not None
    assert (state.record.ack_state(bid) == "read") is (status == 303)
    ledger = await setup.harness.members["KZ"].client.status(bid)
    uz_acks = next(r["acks"] for r in ledger["recipients"] if r["party"] == "UZ")
    assert bool(uz_acks) is (status == 303)


@pytest.mark.parametrize("attacker_host", ["127.0.0.1", "localhost"])
async def test_cross_site_form_post_from_another_page_is_refused(
    setup: Setup, attacker_host: str
) -> None:
    """A page on another origin (same site on 127.0.0.1, another site on localhost)
    submits a form to the console in the officer's logged-in browser."""
    bid = await setup.post()
    uz = setup.uz
    await uz.goto("/inbox")
    await expect(uz.page.locator(f"tr[data-bid='{bid}']")).to_be_visible()

    async def evil(request: web.Request) -> web.Response:
        html = (
            f'<form method="post" action="{uz.url}/b/{bid}/ack">'
            '<input name="status" value="actioned"><input name="csrf" value="guess">'
            '<button id="go">win a prize</button></form>'
        )
        return web.Response(text=html, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", evil)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        page = await uz.context.new_page()  # the officer's browser, cookie and all
        await page.goto(f"http://{attacker_host}:{port}/")
        async with page.expect_navigation() as nav:
            await page.click("#go")
        response = await nav.value
        assert response is not None and response.status in (401, 403)
        await page.close()
    finally:
        await runner.cleanup()
    state = uz.console.state
    assert state is not None and state.record.ack_state(bid) is None
    ledger = await setup.harness.members["KZ"].client.status(bid)
    assert all(not r["acks"] for r in ledger["recipients"])


async def test_hostile_bulletins_are_shown_as_text_and_nothing_runs(setup: Setup) -> None:
    uz = setup.uz
    dialogs: list[str] = []
    uz.page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    await uz.page.add_init_script("window.__xss = 0;")
    bids = []
    for i, p in enumerate(PAYLOADS):
        body = {
            "summary": f"summary {p}",
            "threat_level": "severe",
            "categories": ["other"],
            "locations": ["UAAA"],
            "valid_from": 1790000000,
            "valid_until": 1890000000,
            "details": f"details\n{p}",
            "sources": [f"source {p}"],
            "recommendations": [p],
            "risk": {
                "scenario": {"target": p, "method": p, "perpetrator": p},
                "likelihood": "low",
                "consequence": "high",
                "residual_risk": "medium",
                "additional_mitigation": p,
            },
        }
        bids.append(
            await setup.post(
                "KZ", type="threat-assessment", title=f"T{i} {p}", body=body, handling=p
            )
        )
    await uz.goto("/inbox")
    await expect(uz.page.locator("tr[data-bid]")).to_have_count(len(PAYLOADS))
    for i, p in enumerate(PAYLOADS):
        link = uz.page.locator(f"tr[data-bid='{bids[i]}'] td.title a")
        await expect(link).to_have_text(f"T{i} {p}")  # shown literally, as text
    pages = ["/inbox", "/inbox?q=script"] + [f"/b/{b}" for b in bids]
    for path in pages:
        await uz.goto(path)
        main = uz.page.locator("main")
        for selector in ["script", "img", "svg", "iframe", "style", "[onerror]", "[onload]"]:
            assert await main.locator(selector).count() == 0, (path, selector)
        assert await uz.page.locator("a[href^='javascript:']").count() == 0, path
        assert await uz.page.evaluate("window.__xss") == 0, path
    await uz.goto(f"/b/{bids[0]}")
    await expect(uz.page.locator("article h1")).to_have_text(f"T0 {PAYLOADS[0]}")
    await expect(uz.page.locator(".handling")).to_contain_text(PAYLOADS[0])
    await uz.goto(f"/b/{bids[5]}")
    await expect(uz.page.locator("article h1")).to_have_text(f"T5 {PAYLOADS[5]}")  # no SSTI
    assert dialogs == []

    # The sender's own preview of hostile input is escaped too.
    kz = setup.kz
    kz.page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    await kz.goto("/compose?type=advisory")
    await kz.page.fill("#f-title", PAYLOADS[1])
    await kz.page.fill("#f-summary", PAYLOADS[0])
    await kz.page.check("input[name=groups][value=cac-avsec]")
    await kz.page.click("#preview")
    await expect(kz.page.locator("#preview-pane h1")).to_have_text(PAYLOADS[1])
    assert await kz.page.locator("#preview-pane img").count() == 0
    assert dialogs == []


async def test_no_private_key_reaches_the_browser(setup: Setup) -> None:
    bid = await setup.post()
    uz = setup.uz
    member = setup.harness.members["UZ"]
    secrets = [member.signer.to_private_jwk()["d"]]
    assert member.enc is not None
    enc_jwk = member.enc.to_private_jwk()
    secrets += [str(enc_jwk[k]) for k in ("x25519_d", "mlkem768_d")]
    assert len(secrets) == 3 and all(len(s) >= 40 for s in secrets)
    bodies = []
    paths = ["/inbox", f"/b/{bid}", "/compose", "/sent", "/directory", "/inbox/rows"]
    for path in [*paths, "/static/console.js"]:
        response = await uz.goto(path)
        bodies.append(await response.text())
    assert len(bodies) == 7 and all(bodies)
    text = "\n".join(bodies)
    for secret in secrets:
        assert secret not in text
    assert not re.search(r'"(d|x25519_d|mlkem768_d)"\s*:', text)
