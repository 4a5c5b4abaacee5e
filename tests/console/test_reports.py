"""The Reports page in a real browser: the group's and the State's figures and charts
from ``GET /v1/reports`` (through the SDK), the period picker, the downloads, the CSP
that lets the charts' ``data:`` images through on this page only, Russian, and hostile
names from the directory shown as text with no script run."""

from __future__ import annotations

import re
from pathlib import Path

from console._desk import Setup
from playwright.async_api import expect
from reports._small import T0_DATE, rows

from exchange.console.security import CSP, CSP_DATA_IMAGES
from exchange.store import history

EVIL = '<script>window.__xss = 1; alert(1)</script><img src=x onerror="window.__xss = 2">'


async def _history(setup: Setup) -> None:
    b, d, a = rows()
    db = setup.harness.server.exchange.db
    await db.run_write(lambda c: history.bulk_history(c, b, d, a))


def _period() -> str:
    end = T0_DATE.fromordinal(T0_DATE.toordinal() + 6).isoformat()
    return f"from={T0_DATE.isoformat()}&to={end}"


async def test_group_report_with_charts_picker_and_downloads(setup: Setup, tmp_path: Path) -> None:
    await _history(setup)
    kz = setup.kz
    response = await kz.goto(f"/reports?scope=group:cac-avsec&{_period()}")
    assert response is not None and response.status == 200
    assert response.headers["content-security-policy"] == CSP_DATA_IMAGES
    assert "img-src 'self' data:" in CSP_DATA_IMAGES and "data:" not in CSP
    page = kz.page
    options = page.locator("#r-scope option")
    await expect(options).to_have_text(
        [re.compile(r"My State: .*\(KZ\)"), re.compile("Group cac-avsec: Central Asia")]
    )
    await expect(page.locator("#r-scope")).to_have_value("group:cac-avsec")
    report = page.locator("#report section.avsec-report")
    await expect(report.locator("h1")).to_have_text(
        "Exchange effectiveness report: group cac-avsec"
    )
    # the hand-computed figures (tests/reports/test_figures.py): B1-B3, 3 recipients each
    cards = report.locator(".cards")
    await expect(cards).to_contain_text("3bulletins posted")
    await expect(cards).to_contain_text("9deliveries")
    uz_immediate = report.locator("tr", has=page.locator("td", has_text=re.compile("^UZ$")))
    await expect(uz_immediate.first).to_contain_text("immediate")
    # the charts, drawn: the data: images loaded under this page's CSP (one week: no trend)
    charts = report.locator("figure img")
    await expect(charts).to_have_count(3)
    for i in range(3):
        width = await charts.nth(i).evaluate("img => img.complete && img.naturalWidth")
        assert width and width > 100
    # styled by the report's sheet from the console (no inline style is allowed)
    weight = await report.locator("tr.total td").first.evaluate(
        "td => getComputedStyle(td).fontWeight"
    )
    assert weight in ("700", "bold")
    await page.screenshot(path=str(tmp_path / "console-reports.png"))  # docs/img's source

    # the period picker: another period, then a preset
    await page.fill("#r-from", (T0_DATE.replace(day=1)).isoformat())
    await page.click("#report-form button[type=submit]")
    await expect(page).to_have_url(re.compile(r"scope=group%3Acac-avsec&from="))
    await page.locator(".presets a").nth(1).click()
    await expect(page.locator("#report h1")).to_be_visible()

    # downloads: the HTML file with its charts and the CSV
    await kz.goto(f"/reports?scope=group:cac-avsec&{_period()}")
    async with page.expect_download() as dl:
        await page.click("#dl-html")
    html = (await (await dl.value).path()).read_text()
    assert html.startswith("<!DOCTYPE html>") and html.count("data:image/svg+xml") == 3
    assert (await dl.value).suggested_filename.startswith("report-group-cac-avsec-")
    async with page.expect_download() as dl:
        await page.click("#dl-csv")
    text = (await (await dl.value).path()).read_text()
    assert "UZ" in text and "immediate" in text

    # KZ's own report: B1, B2 and B4 (to UZ only, TLP:RED) sent, B3 received
    await kz.goto(f"/reports?scope=party&{_period()}")
    await expect(page.locator("#report h1")).to_have_text("Exchange effectiveness report: KZ")
    await expect(page.locator("#report .cards")).to_contain_text("4bulletins posted")
    await expect(page.locator("#report .cards")).to_contain_text("8deliveries")


async def test_reports_page_in_russian_and_for_the_operator(setup: Setup) -> None:
    await _history(setup)
    uz = setup.uz
    await uz.context.add_cookies([{"name": "avsec_console_lang", "value": "ru", "url": uz.url}])
    await uz.goto(f"/reports?{_period()}")
    await expect(uz.page.locator("main h1").first).to_have_text("Отчёты")
    await expect(uz.page.locator("nav")).to_contain_text("Отчёты")
    await expect(uz.page.locator("#report h1")).to_have_text("Exchange effectiveness report: UZ")
    op = setup.op
    await op.goto(f"/reports?{_period()}")
    await expect(op.page.locator("#r-scope option").first).to_have_text("The whole exchange")
    await expect(op.page.locator("#report h1")).to_contain_text("the whole exchange")


async def test_scopes_are_the_officers_own(setup: Setup) -> None:
    """A group the State is not in is not offered, and asking for it by hand is refused
    by the console (404) before the server's own refusal."""
    h = setup.harness
    await h.group("south", {"GE": "chair", "AZ": "member"}, "South Caucasus")
    response = await setup.kz.goto("/reports?scope=group:south")
    assert response is not None and response.status == 404
    await setup.kz.goto("/reports")
    assert "south" not in await setup.kz.page.locator("#r-scope").inner_text()


async def test_hostile_names_stay_text_and_nothing_runs(setup: Setup) -> None:
    h = setup.harness
    await h.admin.admin("POST", "/v1/admin/parties", {"id": "XX", "name": EVIL, "kind": "state"})
    await h.group("evil", {"KZ": "member", "XX": "member", "UZ": "chair"}, EVIL)
    await _history(setup)
    kz = setup.kz
    dialogs: list[str] = []
    kz.page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    await kz.page.add_init_script("window.__xss = 0;")
    for path in (
        "/reports?scope=group:evil",
        f"/reports?scope=group:evil&from={EVIL}&to={EVIL}",
        "/reports?scope=<script>alert(3)</script>",
    ):
        await kz.goto(path)
        assert await kz.page.evaluate("window.__xss") == 0, path
    await kz.goto("/reports?scope=group:evil")
    option = kz.page.locator("#r-scope option[value='group:evil']")
    await expect(option).to_have_text(f"Group evil: {EVIL}")
    await expect(kz.page.locator("#report h1")).to_have_text(
        "Exchange effectiveness report: group evil"
    )
    await expect(kz.page.locator("#report")).to_contain_text("XX")
    html = await kz.page.content()
    assert "<script>window.__xss" not in html and '<img src="x"' not in html
    assert dialogs == []
