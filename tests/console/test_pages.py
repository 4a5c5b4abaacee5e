"""The officer's pages in a real browser (Debian chromium): a bulletin arrives live,
is opened and acknowledged, and the sender sees its ledger change; compose from the
form; filters; Russian; the operator's pages."""

from __future__ import annotations

import re

from console._desk import Setup
from playwright.async_api import expect


async def test_bulletin_arrives_live_is_read_and_acked_and_the_sender_sees_it(
    setup: Setup,
) -> None:
    kz, uz = setup.kz, setup.uz
    await uz.goto("/inbox")
    await expect(uz.page.locator("#live")).to_be_visible()  # the SSE stream is connected
    assert await uz.page.locator("tr[data-bid]").count() == 0

    # KZ composes a threat assessment with the ICAO risk fields, from the form.
    await kz.goto("/compose?type=threat-assessment")
    page = kz.page
    await page.fill("#f-title", "Insider threat to cargo screening at Tashkent")
    await page.check("input[name=groups][value=cac-avsec]")
    await page.check("input[name=priority][value=immediate]")
    await page.check("input[name=tlp][value=amber]")
    await page.fill("#f-handling", "RESTRICTED: not for onward distribution")
    await page.fill("#f-summary", "An insider could place an IED in screened cargo.")
    await page.select_option("#f-threat_level", "substantial")
    await page.check("input[name='body.categories'][value=insider]")
    await page.check("input[name='body.categories'][value=ied]")
    await page.fill("#f-locations", "utTT, UAAA")
    await page.fill("[id='f-scope.firs']", "UTTR")
    await page.fill("[id='f-scope.flight_levels.lower']", "0")
    await page.fill("[id='f-scope.flight_levels.upper']", "450")
    await page.fill("[id='f-risk.scenario.target']", "flights carrying cargo screened at UTTT")
    await page.fill("[id='f-risk.scenario.method']", "IED concealed in air cargo")
    await page.fill("[id='f-risk.scenario.perpetrator']", "recruited screening employee")
    await page.select_option("[id='f-risk.likelihood']", "medium")
    await page.select_option("[id='f-risk.consequence']", "very-high")
    await page.select_option("[id='f-risk.residual_risk']", "high")
    await page.click("#preview")
    await expect(page.locator("#preview-pane")).to_contain_text("AZ, GE, ICAO, KG, TJ, UZ")
    await expect(page.locator("#preview-pane")).to_contain_text("RESTRICTED")
    await page.click("#post")
    await expect(page).to_have_url(re.compile(r"/sent/[0-9a-f-]{36}$"))
    bid = page.url.rsplit("/", 1)[-1]
    uz_read = page.locator("#ledger-rows tr[data-party=UZ] td[data-status=read]")
    await expect(uz_read).to_have_text("-")

    # UZ's open inbox shows it without a reload.
    row = uz.page.locator(f"tr[data-bid='{bid}']")
    await expect(row).to_contain_text("Insider threat to cargo screening at Tashkent")
    await expect(row).to_contain_text("immediate")
    await expect(row).to_contain_text("DD")
    await expect(row.locator(".tlp")).to_have_text("TLP:AMBER")
    await row.locator("td.title a").click()
    article = uz.page.locator("article")
    await expect(article).to_contain_text("substantial")
    await expect(article).to_contain_text("UTTR")
    await expect(article).to_contain_text("very high")
    await expect(uz.page.locator(".handling")).to_contain_text("not for onward distribution")
    await expect(uz.page.locator("section.checks")).to_contain_text("KZ/ops")
    await expect(uz.page.locator("section.checks")).to_contain_text("inclusion proof")
    await uz.page.click("#ack-read")
    await expect(uz.page.locator("#ack-read")).to_have_class("done")

    # KZ's ledger page, still open, changes by itself.
    await expect(uz_read).to_have_text(re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\dZ"))
    await kz.goto("/sent")
    await expect(kz.page.locator("table.grid")).to_contain_text("Insider threat")


async def test_compose_refuses_bad_input_with_readable_messages(setup: Setup) -> None:
    kz = setup.kz
    await kz.goto("/compose?type=threat-assessment")
    await kz.page.fill("#f-title", "No recipients and a bad location")
    await kz.page.fill("#f-locations", "Almaty")
    await kz.page.click("#post")
    errors = kz.page.locator("#errors")
    await expect(errors).to_contain_text("body.locations[0]")
    await expect(errors).to_contain_text("body.summary: is required")
    await expect(kz.page.locator("#f-title")).to_have_value("No recipients and a bad location")
    await kz.goto("/sent")
    await expect(kz.page.locator("td.empty")).to_be_visible()


async def test_filters_and_paging_keep_the_newest_first(setup: Setup) -> None:
    a = await setup.post("KZ", title="Routine note from Kazakhstan", priority="routine")
    b = await setup.post(
        "GE",
        title="Flash warning from Georgia",
        priority="flash",
        type="request",
        body={"question": "Which aerodromes saw drones?"},
    )
    uz = setup.uz
    await uz.goto("/inbox")
    rows = uz.page.locator("tr[data-bid]")
    await expect(rows).to_have_count(2)
    assert await rows.nth(0).get_attribute("data-bid") == b  # newest first
    await uz.page.select_option("select[name=priority]", "flash")
    await uz.page.click("#filters button[type=submit]")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("Flash warning from Georgia")
    await uz.goto("/inbox?sender=KZ")
    await expect(rows).to_have_count(1)
    assert await rows.first.get_attribute("data-bid") == a
    await uz.goto("/inbox?q=DRONES")  # body text, any case
    await expect(rows).to_have_count(1)
    assert await rows.first.get_attribute("data-bid") == b
    await uz.goto("/inbox?unacked=1")
    await expect(rows).to_have_count(2)
    await uz.goto(f"/b/{a}")
    await uz.page.click("#ack-received")
    await uz.goto("/inbox?unacked=1")
    await expect(rows).to_have_count(1)
    await uz.goto("/inbox?type=request")
    await expect(rows).to_have_count(1)
    await uz.goto("/inbox?expired=expired")
    await expect(rows).to_have_count(0)


async def test_russian_by_browser_and_by_switch_and_bulletins_in_their_own_language(
    setup: Setup,
) -> None:
    bid = await setup.post("KZ", title="Угроза ПЗРК в районе Алматы", lang="ru")
    uz = setup.uz
    await uz.goto("/inbox")
    nav = uz.page.locator("header nav")
    await expect(nav).to_contain_text("Inbox")
    await uz.page.click("form.lang button[value=ru]")
    await expect(nav).to_contain_text("Входящие")
    await expect(uz.page.locator("html")).to_have_attribute("lang", "ru")
    await expect(uz.page.locator("thead")).to_contain_text("Отправитель")
    await expect(uz.page.locator(f"tr[data-bid='{bid}']")).to_contain_text("приоритетно")
    await uz.goto(f"/b/{bid}")
    await expect(uz.page.locator("article")).to_have_attribute("lang", "ru")
    await uz.page.click("form.lang button[value=en]")
    await expect(nav).to_contain_text("Inbox")

    context = await setup.browser.new_context(locale="ru-RU")
    page = await context.new_page()
    await page.goto(setup.kz.console.login_url)
    await expect(page.locator("header nav")).to_contain_text("Написать")
    await context.close()


async def test_reply_thread_under_the_original(setup: Setup) -> None:
    bid = await setup.post("KZ", title="Original assessment")
    uz = setup.uz
    await uz.goto(f"/b/{bid}")
    await uz.page.click("text=Reply (advisory)")
    await uz.page.fill("#f-title", "Reply: screening reinforced")
    await uz.page.fill("#f-summary", "Uzbekistan has reinforced cargo screening.")
    await uz.page.check("input[name=groups][value=cac-avsec]")
    await uz.page.click("#post")
    await expect(uz.page).to_have_url(re.compile(r"/sent/"))
    kz = setup.kz
    await kz.goto("/inbox")
    reply = kz.page.locator("td.title a", has_text="Reply: screening reinforced")
    await reply.click()
    await expect(kz.page.locator("section.thread")).to_contain_text("In reply to")
    state = setup.kz.console.state
    assert state is not None
    assert [e.title for e in state.thread(bid)] == ["Reply: screening reinforced"]


async def test_directory_and_operator_pages(setup: Setup) -> None:
    uz = setup.uz
    await uz.goto("/directory")
    await expect(uz.page.locator("main")).to_contain_text("Civil Aviation Agency of Uzbekistan")
    await expect(uz.page.locator("main")).to_contain_text("verified against the audit log")
    await expect(uz.page.locator("main")).to_contain_text("Trusted audit tree head")
    assert await uz.page.locator("a[href='/admin']").count() == 0
    assert (await uz.goto("/admin")).status == 404  # no operator pages for a State

    op = setup.op
    await op.goto("/admin")
    await op.page.fill("form.row:has(input[value=group]) input[name=id]", "eurasia-avsec")
    await op.page.fill("form.row:has(input[value=group]) input[name=name]", "Eurasia group")
    await op.page.click("form.row:has(input[value=group]) button")
    await expect(op.page.locator("#done")).to_contain_text("recorded in the audit log at index")
    await expect(op.page.locator("main")).to_contain_text("eurasia-avsec")
    await op.page.fill("form.row:has(input[value=party]) input[name=id]", "bad id")
    await op.page.fill("form.row:has(input[value=party]) input[name=name]", "x")
    await op.page.click("form.row:has(input[value=party]) button")
    await expect(op.page.locator("#error")).to_contain_text("id: not a valid id")
