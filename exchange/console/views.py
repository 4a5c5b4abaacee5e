"""The officer's pages: inbox (live), read and acknowledge, sent with its ledger, the
directory, and the language switch. Compose is in :mod:`exchange.console.compose`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from aiohttp import web

from exchange.client.sent import sent as sent_page
from exchange.console import i18n
from exchange.console.page import STATE_KEY, render
from exchange.console.security import redirect
from exchange.console.state import ConsoleState, Entry
from exchange.errors import ExchangeError
from exchange.vocab import ACK_STATUSES, PRIORITIES, TYPES, priority_rank

__all__ = ["PAGE_SIZE", "filter_entries", "routes"]

routes = web.RouteTableDef()
PAGE_SIZE = 25
_BID_CHARS = frozenset("0123456789abcdef-")


def _bid(request: web.Request) -> str:
    bid = request.match_info["bid"]
    if len(bid) != 36 or not set(bid) <= _BID_CHARS:
        raise web.HTTPNotFound()
    return bid


@routes.get("/")
async def home(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    return redirect("/inbox" if state.can_read else "/directory")


@routes.post("/lang")
async def set_lang(request: web.Request) -> web.Response:
    form = await request.post()
    lang = str(form.get("lang", ""))
    back = str(form.get("back", "/inbox"))
    response = redirect(back if back.startswith("/") and not back.startswith("//") else "/inbox")
    if lang in i18n.LANGUAGES:
        response.set_cookie(i18n.LANG_COOKIE, lang, httponly=True, samesite="Strict", path="/")
    return response


# --- inbox ----------------------------------------------------------------------------------


def _matches(e: Entry, f: dict[str, str], state: ConsoleState, now: int) -> bool:
    m = e.meta
    if f["type"] and m.get("type") != f["type"]:
        return False
    if f["priority"] and m.get("priority") != f["priority"]:
        return False
    if f["sender"] and m.get("iss") != f["sender"]:
        return False
    if f["group"] and f["group"] not in (m.get("groups") or []):
        return False
    if f["unacked"] and state.record.ack_state(e.bid) is not None:
        return False
    if f["expired"] == "current" and e.expired(now):
        return False
    if f["expired"] == "expired" and not e.expired(now):
        return False
    if f["q"]:
        text = json.dumps(e.bulletin, ensure_ascii=False).casefold() if e.bulletin else ""
        if f["q"].casefold() not in text:
            return False
    return True


def _filters(request: web.Request) -> dict[str, str]:
    q = request.query
    return {
        "type": q.get("type", "") if q.get("type", "") in TYPES else "",
        "priority": q.get("priority", "") if q.get("priority", "") in PRIORITIES else "",
        "sender": q.get("sender", "")[:32],
        "group": q.get("group", "")[:64],
        "q": q.get("q", "")[:200].strip(),
        "unacked": "1" if q.get("unacked") else "",
        "expired": q.get("expired", "") if q.get("expired") in ("current", "expired") else "",
    }


def filter_entries(state: ConsoleState, f: dict[str, str], now: int) -> list[Entry]:
    """The inbox after the filters, newest first."""
    kept = [e for e in state.entries.values() if _matches(e, f, state, now)]
    return sorted(kept, key=lambda e: e.seq, reverse=True)


async def _inbox_context(request: web.Request) -> dict[str, Any]:
    state = request.app[STATE_KEY]
    now = int(time.time())
    f = _filters(request)
    try:
        page = max(1, int(request.query.get("page", "1")))
    except ValueError:
        page = 1
    rows = filter_entries(state, f, now)
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    page = min(page, pages)
    shown = rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    senders = sorted({str(e.meta.get("iss")) for e in state.entries.values()})
    groups = sorted({g for e in state.entries.values() for g in e.meta.get("groups") or []})
    query = {k: v for k, v in f.items() if v}
    return {
        "rows": shown,
        "total": len(rows),
        "page": page,
        "pages": pages,
        "f": f,
        "query": query,
        "types": TYPES,
        "priorities": PRIORITIES,
        "senders": senders,
        "groups": groups,
        "now": now,
        "ack_state": state.record.ack_state,
    }


@routes.get("/inbox")
async def inbox(request: web.Request) -> web.Response:
    return render(request, "inbox.html", await _inbox_context(request))


@routes.get("/inbox/rows")
async def inbox_rows(request: web.Request) -> web.Response:
    """The table body alone, fetched by the page script when the stream brings news."""
    return render(request, "inbox_rows.html", await _inbox_context(request))


@routes.get("/events")
async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: a notice per change; the page then fetches what it shows."""
    state = request.app[STATE_KEY]
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
    )
    await response.prepare(request)
    async with state.listen() as queue:
        await response.write(b"event: hello\ndata: {}\n\n")
        while True:
            try:
                async with asyncio.timeout(15.0):
                    event = await queue.get()
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            data = json.dumps(event, ensure_ascii=True)
            await response.write(f"event: {event['kind']}\ndata: {data}\n\n".encode())


# --- read and acknowledge -----------------------------------------------------------------


async def _audit_line(state: ConsoleState, bid: str) -> tuple[int | None, str | None]:
    """The audit log index of the bulletin's admission and whether it is proven included."""
    try:
        item = await state.client.get(bid)
        index = item.get("log_index")
        if not isinstance(index, int):
            return None, "the server names no log entry"
        if state.client.log is not None:
            entry = await state.client.log.check_included(index)
            if entry.get("bid") != bid:
                return index, "the log entry is for another bulletin"
        return index, None
    except ExchangeError as exc:
        return None, exc.detail


@routes.get("/b/{bid}")
async def read(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    bid = _bid(request)
    entry = state.entries.get(bid)
    if entry is None:
        return render(request, "missing.html", {"bid": bid})
    index, audit_problem = await _audit_line(state, bid)
    chain: list[tuple[str, Entry | None]] = []
    sup = entry.meta.get("supersedes")
    while isinstance(sup, str) and len(chain) < 20:
        earlier = state.entries.get(sup)
        chain.append((sup, earlier))
        sup = earlier.meta.get("supersedes") if earlier else None
    reply_to = entry.bulletin.get("in_reply_to") if entry.bulletin else None
    return render(
        request,
        "read.html",
        {
            "e": entry,
            "b": entry.bulletin,
            "log_index": index,
            "audit_problem": audit_problem,
            "chain": chain,
            "later": state.superseded_by(bid),
            "replies": state.thread(bid),
            "reply_to": reply_to,
            "parent": state.entries.get(reply_to) if isinstance(reply_to, str) else None,
            "sent_parent": state.record.sent.get(reply_to) if isinstance(reply_to, str) else None,
            "acked": state.record.acks.get(bid, []),
            "statuses": ACK_STATUSES,
            "now": int(time.time()),
        },
    )


@routes.post("/b/{bid}/ack")
async def ack(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    bid = _bid(request)
    form = await request.post()
    status = str(form.get("status", ""))
    if status not in ACK_STATUSES or bid not in state.entries:
        raise web.HTTPBadRequest(reason="unknown bulletin or status")
    try:
        await state.ack(bid, status)
    except ExchangeError as exc:
        return render(request, "problem.html", {"detail": exc.detail, "back": f"/b/{bid}"})
    return redirect(f"/b/{bid}")


# --- sent and the delivery ledger ----------------------------------------------------------


#: The newest of a party's posted bulletins the Sent page lists.
SENT_SHOWN = 200


async def _sent_rows(state: Any) -> tuple[list[dict[str, Any]], str | None]:
    """Every bulletin the party posted, from any desk or the CLI (``GET /v1/sent``), with
    its ledger in numbers; the title only where this console posted it, since a sender
    holds no key to its own envelope. Newest first; the error, if the server did not
    answer (then only this console's record is shown)."""
    own = state.record.sent
    rows: dict[str, dict[str, Any]] = {}
    error = None
    try:
        after = 0
        while True:
            page, after = await sent_page(state.client, after=after, limit=100)
            for item in page:
                rows[item["bid"]] = {**item, "title": None, "lang": None}
            if len(page) < 100:
                break
    except ExchangeError as exc:
        error = exc.detail
    for bid, mine in own.items():
        row = rows.setdefault(
            bid,
            {"seq": mine.seq, "bid": bid, "type": mine.type, "priority": mine.priority},
        )
        row.update(tlp=mine.tlp, title=mine.title, lang=mine.lang, posted_at=mine.posted_at)
        row.setdefault("recipients", len(mine.recipients))
    ordered = sorted(rows.values(), key=lambda r: int(r["seq"]), reverse=True)
    return ordered[:SENT_SHOWN], error


@routes.get("/sent")
async def sent(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    items, error = await _sent_rows(state)
    escalations = list(reversed(state.escalations[-20:]))
    return render(
        request, "sent.html", {"items": items, "escalations": escalations, "error": error}
    )


def _grid(ledger: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for r in ledger.get("recipients", []):
        acks = {a.get("status"): a.get("at") for a in r.get("acks", [])}
        rows.append(
            {
                "party": r.get("party"),
                "delivered": r.get("delivered_at"),
                **{s: acks.get(s) for s in ACK_STATUSES},
                "overdue": bool(r.get("overdue")),
            }
        )
    return sorted(rows, key=lambda r: str(r["party"]))


@routes.get("/sent/{bid}")
async def sent_one(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    bid = _bid(request)
    item = state.record.sent.get(bid)
    try:
        ledger = await state.client.status(bid)
    except ExchangeError as exc:
        return render(request, "problem.html", {"detail": exc.detail, "back": "/sent"})
    rank = priority_rank(str(ledger.get("priority", "routine")))
    return render(
        request,
        "ledger.html",
        {
            "item": item,
            "ledger": ledger,
            "grid": _grid(ledger),
            "rank": rank,
            "bid": bid,
            "statuses": ACK_STATUSES,
            "replies": state.thread(bid),
        },
    )


@routes.get("/sent/{bid}/grid")
async def sent_grid(request: web.Request) -> web.Response:
    """The grid's body alone, polled by the page script so that acks show up live."""
    state = request.app[STATE_KEY]
    bid = _bid(request)
    with contextlib.suppress(ExchangeError):
        ledger = await state.client.status(bid)
        return render(
            request, "ledger_fragment.html", {"grid": _grid(ledger), "statuses": ACK_STATUSES}
        )
    raise web.HTTPNotFound()


# --- the directory --------------------------------------------------------------------------


@routes.get("/directory")
async def directory(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    d = await state.directory(refresh=True)
    doc = d.doc
    head = state.client.log.head if state.client.log is not None else None
    if head is None and state.client.log is not None:
        with contextlib.suppress(ExchangeError):
            head = await state.client.log.update()
    return render(request, "directory.html", {"doc": doc, "version": d.version, "head": head})
