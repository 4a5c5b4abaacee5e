"""Group commit of admissions (PROTOCOL §5, §7 ``POST /v1/bulletins``) against a real
server: concurrent posts share one write transaction (``Admissions`` in
exchange/service/admission.py), yet each post gets its own outcome, seqs and log
indices are drawn once each, a refused item leaves no row, and nothing is lost or mixed
up, also across a restart.

Bursts are fired with ``asyncio.gather``. Where a test needs the burst in ONE batch, in
a known order, ``Hold`` keeps the posts at the batcher's door until all have arrived and
then lets them in together in that order; ``Batches`` records what each committed batch
held, so every test can check that the group commit really happened."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from integration._flows import Collector, advisory, eventually, post_raw, seal_to, threat
from support import CAC, Harness

from exchange.bulletin.validate import new_bulletin
from exchange.client import ExchangeClient
from exchange.client.api import Receipt
from exchange.client.audit import LogMonitor
from exchange.client.logcheck import verify_log
from exchange.crypto import b64u_decode, b64u_encode
from exchange.node import open_exchange, start
from exchange.service import admission

GROUP = frozenset(CAC) | {"ICAO"}
PARTIES = sorted(GROUP)
RECEIPT_FIELDS = {"bid", "seq", "iss", "recipients", "envelope_sha256", "accepted_at", "log_index"}


@dataclass
class ErrorBudget:
    expected: int = 0


@pytest.fixture(autouse=True)
def server_errors(caplog: pytest.LogCaptureFixture) -> Iterator[ErrorBudget]:
    """A 500 (an unhandled error, logged at ERROR) fails the test unless the test says
    how many it expects (``server_errors.expected``)."""
    budget = ErrorBudget()
    caplog.set_level(logging.WARNING)
    yield budget
    errors = [r.getMessage() for r in caplog.get_records("call") if r.levelno >= logging.ERROR]
    assert len(errors) == budget.expected, errors


# --- posts, receipts, inboxes, the log ------------------------------------------------------


@dataclass
class Post:
    party: str
    bulletin: dict[str, Any]
    envelope: str
    recipients: list[str]  # whom the server must route it to

    @property
    def bid(self) -> str:
        return str(self.bulletin["bid"])

    @property
    def digest(self) -> str:
        return b64u_encode(hashlib.sha256(self.envelope.encode()).digest())


def others(*excluded: str, observer: bool = True) -> list[str]:
    pool = GROUP if observer else frozenset(CAC)
    return sorted(pool - set(excluded))


def audience(bulletin: dict[str, Any], observer: bool) -> list[str]:
    """Whom PROTOCOL §5 routes this test's bulletins to (cac-avsec: the six States, and
    the ICAO observer unless amber+strict; red: the named parties)."""
    iss = bulletin["iss"]
    if bulletin["tlp"] == "red":
        assert bulletin["groups"] == []
        return sorted(set(bulletin["to"]) - {iss})
    assert bulletin["groups"] == ["cac-avsec"], bulletin["groups"]
    pool = set(CAC) | ({"ICAO"} if observer and bulletin["tlp"] != "amber+strict" else set())
    return sorted((pool | set(bulletin["to"])) - {iss})


async def sealed(
    h: Harness, party: str, bulletin: dict[str, Any], recipients: Iterable[str] | None = None
) -> Post:
    """``bulletin`` sealed by ``party`` to the parties it routes to, or to
    ``recipients`` (to seal to the wrong keys)."""
    expected = audience(bulletin, "ICAO" in h.members)
    client = h.members[party].client
    envelope = await seal_to(
        client, bulletin, expected if recipients is None else recipients, refresh=False
    )
    return Post(party, bulletin, envelope, expected)


async def fire(h: Harness, posts: Sequence[Post]) -> list[tuple[int, Any]]:
    """All of ``posts`` at once, each from its own party's poster."""
    return list(
        await asyncio.gather(*(post_raw(h, h.members[p.party].client, p.envelope) for p in posts))
    )


async def receipt_of(client: ExchangeClient, body: Any, post: Post) -> Receipt:
    """The receipt in ``body`` is the server's, and is this post's."""
    assert isinstance(body, dict) and set(body) == {"receipt"}, body
    token = body["receipt"]
    payload = json.loads(b64u_decode(token.split(".")[1]))
    assert set(payload) == RECEIPT_FIELDS, payload
    r = await client.verify_receipt(token)
    assert r.bid == post.bid, (r.bid, post.bid)
    assert r.iss == post.party
    assert r.envelope_sha256 == post.digest
    assert list(r.recipients) == post.recipients, (post.bid, r.recipients, post.recipients)
    assert r.accepted_at.endswith("Z")
    return r


async def whole_inbox(client: ExchangeClient) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    after = 0
    while True:
        page, nxt = await client.inbox(after=after, limit=1000)
        if not page:
            return items
        items.extend(page)
        assert nxt == page[-1]["seq"] > after
        after = nxt


async def inboxes(h: Harness) -> dict[str, list[dict[str, Any]]]:
    return {p: await whole_inbox(h.members[p].client) for p in sorted(h.members)}


async def log_leaves(h: Harness) -> list[dict[str, Any]]:
    """Every leaf of the audit log, after the full audit (``exchange audit verify``)
    recomputed the tree from them and matched the signed tree head."""
    report = await verify_log(LogMonitor(h.admin))
    assert report.ok, (report.first_bad, report.reason)
    size = report.head.size
    assert report.entries == size
    leaves: list[dict[str, Any]] = []
    mon = LogMonitor(h.admin)  # the operator opens every committed leaf (issue 17)
    while len(leaves) < size:
        _, data = await h.admin.request(
            "GET", "/v1/audit/entries", params={"start": len(leaves), "end": size}
        )
        assert data["entries"], len(leaves)
        for e in data["entries"]:
            assert e["index"] == len(leaves)
            leaves.append(await mon.read_entry(b64u_decode(e["leaf"]), e["index"]))
    return leaves


def bulletin_leaves(leaves: list[dict[str, Any]]) -> dict[str, tuple[int, dict[str, Any]]]:
    """bid -> (log index, leaf) of every bulletin admission in the log (once each)."""
    out: dict[str, tuple[int, dict[str, Any]]] = {}
    for i, leaf in enumerate(leaves):
        if leaf.get("kind") == "bulletin":
            assert leaf["bid"] not in out, f"bid {leaf['bid']} logged twice"
            out[leaf["bid"]] = (i, leaf)
    return out


async def check_logged(h: Harness, receipts: Iterable[Receipt]) -> dict[str, tuple[int, Any]]:
    """Each receipt's entry is included under a signed head (inclusion proof) and is the
    bulletin the receipt names; returns the log's bulletin leaves."""
    mon = LogMonitor(h.admin)
    for r in receipts:
        await mon.check_receipt(r)
    logged = bulletin_leaves(await log_leaves(h))
    for r in receipts:
        index, leaf = logged[r.bid]
        assert index == r.log_index
        assert (leaf["seq"], leaf["iss"], leaf["envelope_sha256"]) == (
            r.seq,
            r.iss,
            r.envelope_sha256,
        )
        assert leaf["client"] == f"{r.iss}/ops"
    return logged


async def assert_no_trace(h: Harness, post: Post, logged: dict[str, Any]) -> None:
    """A refused post stored nothing: no bulletin, no ledger, no delivery, no leaf."""
    assert post.bid not in logged
    status, problem = await h.raw(
        "GET",
        f"/v1/bulletins/{post.bid}",
        client_id=h.members[post.party].client.client_id,
        signer=h.members[post.party].signer,
    )
    assert status == 404, (post.bid, status, problem)
    status, problem = await h.raw(
        "GET",
        f"/v1/bulletins/{post.bid}/status",
        client_id=h.admin.client_id,
        signer=h.admin.signer,  # type: ignore[arg-type]
    )
    assert status == 404, (post.bid, status, problem)


def expect_problem(reply: tuple[int, Any], status: int, code: str) -> dict[str, Any]:
    got, body = reply
    assert got == status, reply
    assert isinstance(body, dict) and body["type"] == f"urn:avsec:error:{code}", body
    assert body["status"] == status
    return body


# --- watching and shaping the group commit -------------------------------------------------


class Batches:
    """Records the bids of every batch the server's ``Admissions`` commits, in order."""

    def __init__(self, h: Harness) -> None:
        self.adm = h.server.exchange.admissions
        self.batches: list[list[str]] = []
        real = self.adm.commit

        async def commit(items: list[Any]) -> list[Any]:
            self.batches.append([r.meta["bid"] for r in items])
            return await real(items)

        self.adm.commit = commit  # type: ignore[method-assign]

    @property
    def order(self) -> list[str]:
        """Every bid in the order admission processed it (batches are serial)."""
        return [bid for b in self.batches for bid in b]


class Hold:
    """Keeps the next ``n`` posts at the batcher's door and lets them in together, in
    the order ``key`` gives (arrival order by default): they then share one batch,
    whatever the timing of the HTTP requests. Gives up after ``timeout`` seconds (the
    batch assertions then fail)."""

    def __init__(
        self, h: Harness, n: int, key: Callable[[Any], Any] | None = None, timeout: float = 15
    ) -> None:
        self.adm = h.server.exchange.admissions
        self.n = n
        self.key = key
        self.waiting: list[tuple[Any, asyncio.Future[None]]] = []
        real = self.adm.submit
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(timeout, self._release)

        async def submit(item: Any) -> Any:
            fut: asyncio.Future[None] = loop.create_future()
            self.waiting.append((item, fut))
            if len(self.waiting) == self.n:
                # on the next turn, so that this task waits in line like the others
                loop.call_soon(self._release)
            await fut
            return await real(item)

        self.adm.submit = submit  # type: ignore[method-assign]

    def _release(self) -> None:
        self._timer.cancel()
        if "submit" in vars(self.adm):
            del self.adm.submit  # later posts go straight in
        waiting = self.waiting
        if self.key is not None:
            waiting = sorted(waiting, key=lambda w: self.key(w[0]))  # type: ignore[misc]
        for _item, fut in waiting:  # each wakes, and queues, in this order
            if not fut.done():
                fut.set_result(None)


def in_order(posts: Sequence[Post]) -> Callable[[Any], int]:
    """A ``Hold`` key: the order of ``posts`` (by the exact envelope posted)."""
    rank = {p.digest: i for i, p in enumerate(posts)}
    return lambda request: rank[request.digest]


def by_place(order: Sequence[Post]) -> Callable[[Any], int]:
    """A ``Hold`` key for a burst that posts one envelope several times: the n-th copy
    of an envelope takes the n-th place it has in ``order`` (``sorted`` calls a key once
    per item; the copies are the same bytes, so which copy goes where does not matter)."""
    places: dict[str, list[int]] = {}
    for i, p in enumerate(order):
        places.setdefault(p.digest, []).append(i)
    return lambda request: places[request.digest].pop(0)


def mixed_burst_bulletin(i: int) -> tuple[str, dict[str, Any]]:
    """The i-th post of a burst: each State in turn, amber to the group, amber+strict
    (the observer left out), or red to two named States."""
    party = CAC[i % len(CAC)]
    kind = (i // len(CAC)) % 3
    title = f"Burst bulletin {i}"
    if kind == 0:
        return party, threat(party, title=title)
    if kind == 1:
        return party, threat(party, tlp="amber+strict", title=title)
    j = CAC.index(party)
    to = [CAC[(j + 1) % len(CAC)], CAC[(j + 2) % len(CAC)]]
    return party, threat(party, groups=[], to=to, tlp="red", title=title)


# --- 1. a burst of good posts ------------------------------------------------------------


async def test_thirty_concurrent_posts_each_get_their_own_receipt(harness: Harness) -> None:
    h = harness
    m = await h.cac()
    posts = [await sealed(h, *mixed_burst_bulletin(i)) for i in range(30)]
    assert len({p.bid for p in posts}) == 30
    watchers = {p: Collector(m[p].client) for p in ("UZ", "ICAO")}
    await eventually(lambda: h.server.exchange.hub.connections == len(watchers))
    batches = Batches(h)
    leaves_before = len(await log_leaves(h))

    replies = await fire(h, posts)

    assert [s for s, _ in replies] == [201] * 30, replies
    receipts = [
        await receipt_of(m[p.party].client, body, p)
        for p, (_, body) in zip(posts, replies, strict=True)
    ]
    # the burst really was group-committed, every post exactly once
    assert sorted(batches.order) == sorted(p.bid for p in posts), batches.batches
    assert len(batches.batches) < 30, f"no two posts shared a batch: {batches.batches}"
    # seqs drawn once each, contiguous; log indices distinct, contiguous, in seq order
    by_seq = sorted(receipts, key=lambda r: r.seq)
    assert [r.seq for r in by_seq] == list(range(1, 31))
    assert [r.log_index for r in by_seq] == list(range(leaves_before, leaves_before + 30))
    # admission order is seq order
    assert [r.bid for r in by_seq] == batches.order
    logged = await check_logged(h, receipts)
    assert len(logged) == 30
    # the sender's copy of each bulletin holds the very receipt its post was answered with
    for p, r in zip(posts, receipts, strict=True):
        stored = await m[p.party].client.get(p.bid)
        assert (stored["receipt"], stored["seq"], stored["log_index"]) == (
            r.token,
            r.seq,
            r.log_index,
        )
        assert stored["recipients"] == p.recipients and stored["envelope"] == p.envelope

    # every party's inbox: exactly its bulletins, in seq order, each with its own envelope
    envelope_of = {p.bid: p.envelope for p in posts}
    boxes = await inboxes(h)
    for party in PARTIES:
        expected = [r.bid for r in by_seq if party in r.recipients]
        assert [i["bid"] for i in boxes[party]] == expected, party
        seq_of = {r.bid: r.seq for r in receipts}
        for item in boxes[party]:
            assert item["seq"] == seq_of[item["bid"]]
            assert item["envelope"] == envelope_of[item["bid"]]
    for p, r in zip(posts, receipts, strict=True):
        if p.bulletin["tlp"] == "amber+strict":
            assert "ICAO" not in r.recipients and len(r.recipients) == 5
    assert sum(len(b) for b in boxes.values()) == sum(len(p.recipients) for p in posts)
    # the recipients can open what they got (the right envelope under the right seq)
    for item in boxes["KG"][:3]:
        opened = await m["KG"].client.open(item["envelope"])
        assert opened.bulletin == next(p.bulletin for p in posts if p.bid == item["bid"])
    # live streams got the same, once each, in seq order
    for party, watcher in watchers.items():
        expected = [i["bid"] for i in boxes[party]]
        await watcher.until_bid(expected[-1])
        assert watcher.bids == expected, party
        # each pushed message is the inbox item, field for field (the same seq, envelope)
        assert watcher.bulletins == [{"kind": "bulletin", **i} for i in boxes[party]], party
        await watcher.stop()


# --- 2. re-posts and conflicts inside one batch ---------------------------------------------


async def test_repost_and_conflict_in_one_batch(harness: Harness) -> None:
    h = harness
    m = await h.cac()
    # stored before the burst: re-posting it in the burst answers its old receipt
    old = await sealed(h, "GE", threat("GE", title="Stored before the burst"))
    status, body = await post_raw(h, m["GE"].client, old.envelope)
    assert status == 201
    old_receipt = await receipt_of(m["GE"].client, body, old)

    target = threat("KZ", title="Posted twice in one burst")
    first = await sealed(h, "KZ", target)
    resealed = await sealed(h, "KZ", target)  # same bulletin, other bytes (fresh CEK)
    assert resealed.envelope != first.envelope
    edited = await sealed(h, "KZ", {**target, "title": "Edited under the same bid"})
    stolen = await sealed(h, "UZ", threat("UZ", bid=target["bid"]))  # another sender
    old_conflict = await sealed(h, "GE", {**old.bulletin, "title": "Rewritten"})
    good = [await sealed(h, *mixed_burst_bulletin(i)) for i in range(6)]
    order = [
        good[0],
        first,
        good[1],
        first,  # the very same bytes again, in the same batch
        resealed,
        good[2],
        edited,
        stolen,
        old,  # a re-post of a bulletin committed earlier
        good[3],
        old_conflict,
        first,  # and a third time
        good[4],
        good[5],
    ]
    batches = Batches(h)
    Hold(h, len(order), key=by_place(order))

    replies = await fire(h, order)

    assert batches.batches == [[p.bid for p in order]], batches.batches
    statuses = [s for s, _ in replies]
    # the three copies of ``first`` are interchangeable: one of them (whichever the
    # batch met first) is created, the two others get its receipt again
    copies = [1, 3, 11]
    assert sorted(statuses[i] for i in copies) == [200, 200, 201], statuses
    assert [s for i, s in enumerate(statuses) if i not in copies] == [
        201,
        201,
        409,
        201,
        409,
        409,
        200,
        201,
        409,
        201,
        201,
    ]
    assert replies[1][1] == replies[3][1] == replies[11][1], "the identical receipt"
    created = await receipt_of(m["KZ"].client, replies[1][1], first)
    assert replies[8][1] == {"receipt": old_receipt.token}
    for i in (4, 6, 7, 10):
        expect_problem(replies[i], 409, "conflict")
    good_receipts = [
        await receipt_of(m[p.party].client, body, p)
        for p, (s, body) in zip(order, replies, strict=True)
        if s == 201 and p in good
    ]
    assert len(good_receipts) == 6
    # seven created in this batch: seqs 2..8 in batch order, no seq used by a refusal
    new = [created, *good_receipts]
    assert sorted(r.seq for r in new) == list(range(2, 9))
    assert [r.bid for r in sorted(new, key=lambda r: r.seq)] == [
        p.bid for p in (good[0], first, good[1], good[2], good[3], good[4], good[5])
    ]
    assert len({r.log_index for r in new}) == 7

    logged = await check_logged(h, [old_receipt, *new])
    assert len(logged) == 8
    assert logged[target["bid"]][1]["envelope_sha256"] == first.digest
    boxes = await inboxes(h)
    for party in PARTIES:
        bids = [i["bid"] for i in boxes[party]]
        assert len(bids) == len(set(bids)), (party, bids)
        if party in first.recipients:
            item = next(i for i in boxes[party] if i["bid"] == target["bid"])
            assert item["envelope"] == first.envelope and item["seq"] == created.seq
            assert item["iss"] == "KZ"
        else:
            assert target["bid"] not in bids, party
    assert sum(len(b) for b in boxes.values()) == sum(
        len(r.recipients) for r in [old_receipt, *new]
    )
    ledger = await m["KZ"].client.status(target["bid"])
    assert sorted(r["party"] for r in ledger["recipients"]) == first.recipients
    # UZ's attempt under KZ's bid changed nothing for UZ either
    status, _ = await h.raw(
        "GET",
        f"/v1/bulletins/{target['bid']}/status",
        client_id=m["UZ"].client.client_id,
        signer=m["UZ"].signer,
    )
    assert status == 404


# --- 3. refusals inside a batch leave no rows ------------------------------------------------


async def test_refused_items_leave_no_trace_and_burn_no_seq(harness: Harness) -> None:
    h = harness
    m = await h.cac()
    uz_stored = await sealed(h, "UZ", threat("UZ", title="Stored UZ assessment"))
    status, body = await post_raw(h, m["UZ"].client, uz_stored.envelope)
    assert status == 201
    stored_receipt = await receipt_of(m["UZ"].client, body, uz_stored)

    # sealed to the wrong keys: one recipient missing; one too many (the observer on
    # amber+strict)
    missing = await sealed(h, "KZ", threat("KZ", title="Missing UZ"), others("KZ", "UZ"))
    extra = await sealed(h, "GE", threat("GE", tlp="amber+strict"), others("GE"))
    # bad supersedes: unknown; another sender's bulletin; one refused earlier in the batch
    unknown = await sealed(h, "KZ", threat("KZ", supersedes=str(uuid.uuid4())))
    foreign = await sealed(h, "KZ", threat("KZ", supersedes=uz_stored.bid))
    after_refused = await sealed(h, "KZ", threat("KZ", supersedes=missing.bid))
    # a refused post does not take its bid: the same bulletin sealed right, later in
    # the same batch, is accepted
    fixed = await sealed(h, "KZ", missing.bulletin)
    good = [await sealed(h, *mixed_burst_bulletin(i)) for i in range(8)]
    order = [
        good[0],
        missing,
        good[1],
        unknown,
        good[2],
        extra,
        good[3],
        foreign,
        good[4],
        after_refused,
        good[5],
        good[6],
        fixed,
        good[7],
    ]
    refused = [extra, unknown, foreign, after_refused]
    accepted = [p for p in order if p is not missing and p not in refused]
    batches = Batches(h)
    Hold(h, len(order), key=in_order(order))
    size_before = len(await log_leaves(h))

    replies = await fire(h, order)

    def reply(p: Post) -> tuple[int, Any]:
        return replies[order.index(p)]

    assert batches.batches == [[p.bid for p in order]], batches.batches
    kid = {p: h.members[p].enc.kid for p in PARTIES}  # type: ignore[union-attr]
    problem = expect_problem(reply(missing), 422, "recipient-mismatch")
    assert problem["expected_kids"] == sorted(kid[p] for p in others("KZ"))
    assert problem["recipients"] == others("KZ")
    problem = expect_problem(reply(extra), 422, "recipient-mismatch")
    assert problem["expected_kids"] == sorted(kid[p] for p in others("GE", "ICAO"))
    assert problem["recipients"] == others("GE", "ICAO")
    for p in (unknown, foreign, after_refused):
        problem = expect_problem(reply(p), 400, "invalid-request")
        assert "supersedes" in problem["detail"]
    assert [reply(p)[0] for p in accepted] == [201] * len(accepted)
    receipts = [await receipt_of(m[p.party].client, reply(p)[1], p) for p in accepted]
    # the accepted ones took seqs 2.. and the next log indices, in batch order, with
    # no gap where a refused one was
    assert [r.seq for r in receipts] == list(range(2, 2 + len(accepted)))
    assert [r.log_index for r in receipts] == list(range(size_before, size_before + len(accepted)))

    logged = await check_logged(h, [stored_receipt, *receipts])
    assert len(logged) == 1 + len(accepted)
    assert len(await log_leaves(h)) == size_before + len(accepted)
    for p in refused:
        await assert_no_trace(h, p, logged)
    assert logged[missing.bid][1]["envelope_sha256"] == fixed.digest
    boxes = await inboxes(h)
    delivered = {i["bid"] for box in boxes.values() for i in box}
    assert delivered == {uz_stored.bid, *(p.bid for p in accepted)}
    assert sum(len(b) for b in boxes.values()) == sum(
        len(p.recipients) for p in [uz_stored, *accepted]
    )
    item = next(i for i in boxes["UZ"] if i["bid"] == missing.bid)
    assert item["envelope"] == fixed.envelope
    # afterwards, the bid is taken by the accepted envelope
    status, body = await post_raw(h, m["KZ"].client, missing.envelope)
    expect_problem((status, body), 409, "conflict")
    status, body = await post_raw(h, m["KZ"].client, fixed.envelope)
    assert (status, body) == (200, reply(fixed)[1])


# --- 4. supersedes naming a bulletin of the same burst ---------------------------------------


def revocation(iss: str, target: str) -> dict[str, Any]:
    return new_bulletin(
        iss=iss,
        type="revocation",
        title="Withdrawn",
        body={"revokes": target, "reason": "Issued in error."},
        now=int(time.time()),
        groups=["cac-avsec"],
        priority="immediate",
    )


@pytest.mark.parametrize("target_first", [True, False], ids=["target-first", "target-last"])
async def test_supersedes_within_one_batch(harness: Harness, target_first: bool) -> None:
    """In one batch, a bulletin may supersede (or revoke) one admitted earlier in that
    same batch by the same sender; not one later in it, nor another sender's."""
    h = harness
    m = await h.cac()
    t = await sealed(h, "KZ", threat("KZ", title="Original"))
    update = await sealed(h, "KZ", threat("KZ", supersedes=t.bid, title="Update"))
    update2 = await sealed(h, "KZ", threat("KZ", supersedes=update.bid, title="Update 2"))
    revoke = await sealed(h, "KZ", revocation("KZ", t.bid))
    theirs = await sealed(h, "UZ", advisory("UZ", supersedes=t.bid))
    filler = await sealed(h, "GE", threat("GE"))
    chain = [t, theirs, update, revoke, update2, filler]
    order = chain if target_first else [update2, revoke, update, theirs, t, filler]
    batches = Batches(h)
    Hold(h, len(order), key=in_order(order))

    replies = await fire(h, order)

    assert batches.batches == [[p.bid for p in order]], batches.batches
    reply = dict(zip((p.bid for p in order), replies, strict=True))
    expect_problem(reply[theirs.bid], 400, "invalid-request")  # never another sender's
    accepted = [t, update, revoke, update2, filler] if target_first else [t, filler]
    for p in order:
        if p in accepted:
            assert reply[p.bid][0] == 201, (p.bulletin["title"], reply[p.bid])
        else:
            problem = expect_problem(reply[p.bid], 400, "invalid-request")
            assert "supersedes" in problem["detail"]
    receipts = {p.bid: await receipt_of(m[p.party].client, reply[p.bid][1], p) for p in accepted}
    assert sorted(r.seq for r in receipts.values()) == list(range(1, len(accepted) + 1))
    if target_first:
        assert receipts[t.bid].seq < receipts[update.bid].seq < receipts[update2.bid].seq
        assert receipts[t.bid].seq < receipts[revoke.bid].seq
    logged = await check_logged(h, receipts.values())
    assert set(logged) == {p.bid for p in accepted}
    for p in order:
        if p not in accepted:
            await assert_no_trace(h, p, logged)

    items = await whole_inbox(m["UZ"].client)
    assert [i["bid"] for i in items] == [p.bid for p in order if p in accepted]
    sup = {i["bid"]: i["supersedes"] for i in items}
    assert sup[t.bid] is None
    if target_first:
        assert sup[update.bid] == t.bid and sup[revoke.bid] == t.bid
        assert sup[update2.bid] == update.bid
        opened = await m["UZ"].client.open(
            next(i for i in items if i["bid"] == revoke.bid)["envelope"]
        )
        assert opened.bulletin["type"] == "revocation"
        assert opened.bulletin["body"]["revokes"] == t.bid


async def test_supersedes_in_an_unshaped_burst_is_consistent(harness: Harness) -> None:
    """Without forcing an order: a revocation posted in the same burst as its target is
    accepted exactly when admission reached the target first, and then after it."""
    h = harness
    m = await h.cac(observer=False)
    pairs = []
    for party in CAC:
        t = await sealed(h, party, threat(party, title=f"Target of {party}"))
        pairs.append((t, await sealed(h, party, revocation(party, t.bid))))
    posts = [p for pair in pairs for p in pair]
    batches = Batches(h)

    replies = await fire(h, posts)

    reply = dict(zip((p.bid for p in posts), replies, strict=True))
    order = batches.order
    assert sorted(order) == sorted(p.bid for p in posts)
    accepted = []
    for t, rev in pairs:
        assert reply[t.bid][0] == 201, reply[t.bid]
        target = await receipt_of(m[t.party].client, reply[t.bid][1], t)
        accepted.append(target)
        if order.index(t.bid) < order.index(rev.bid):
            assert reply[rev.bid][0] == 201, reply[rev.bid]
            r = await receipt_of(m[rev.party].client, reply[rev.bid][1], rev)
            assert r.seq > target.seq
            accepted.append(r)
        else:
            expect_problem(reply[rev.bid], 400, "invalid-request")
    assert sorted(r.seq for r in accepted) == list(range(1, len(accepted) + 1))
    logged = await check_logged(h, accepted)
    assert set(logged) == {r.bid for r in accepted}
    for _t, rev in pairs:
        if rev.bid not in logged:
            await assert_no_trace(h, rev, logged)


# --- 5. nothing lost, also across a restart --------------------------------------------------


async def restart(h: Harness) -> None:
    """Stop the node and start a new one on the same database and keys."""
    cfg = h.server.exchange.config
    await h.server.stop()
    h.server = await start(await open_exchange(cfg))
    for c in [h.admin, *h._clients]:
        await c.close()
        c.server_url = h.url


async def test_nothing_lost_after_a_burst_and_a_restart(harness: Harness) -> None:
    h = harness
    m = await h.cac()
    posts = [await sealed(h, *mixed_burst_bulletin(i)) for i in range(36)]
    twice = posts[5]  # also posted a second time in the same burst
    wrong = await sealed(h, "TJ", threat("TJ", title="Wrong keys"), others("TJ", "AZ"))
    batches = Batches(h)
    mon = LogMonitor(h.admin)
    await mon.update()
    seen_before = mon.head
    assert seen_before is not None

    replies = await fire(h, [*posts, twice, wrong])

    assert sorted(batches.order) == sorted([*(p.bid for p in posts), twice.bid, wrong.bid])
    assert len(batches.batches) < len(posts), batches.batches
    # one copy of ``twice`` created, the other answered with the same receipt
    assert sorted([replies[5][0], replies[len(posts)][0]]) == [200, 201]
    assert replies[5][1] == replies[len(posts)][1]
    assert [s for s, _ in replies[: len(posts)] if s != 201] in ([], [200])
    expect_problem(replies[-1], 422, "recipient-mismatch")
    receipts = {
        p.bid: await receipt_of(m[p.party].client, body, p)
        for p, (_, body) in zip(posts, replies[: len(posts)], strict=True)
    }

    await restart(h)

    # the restarted node serves the same log, an extension of the head seen before
    report = await verify_log(LogMonitor(h.admin), seen_before)
    assert report.ok, report.reason
    logged = await check_logged(h, receipts.values())
    assert set(logged) == set(receipts)
    await assert_no_trace(h, wrong, logged)
    boxes = await inboxes(h)
    by_seq = sorted(receipts.values(), key=lambda r: r.seq)
    assert [r.seq for r in by_seq] == list(range(1, len(posts) + 1))
    for party in PARTIES:
        assert [i["bid"] for i in boxes[party]] == [
            r.bid for r in by_seq if party in r.recipients
        ], party
        assert [i["seq"] for i in boxes[party]] == [
            r.seq for r in by_seq if party in r.recipients
        ], party
    assert sum(len(b) for b in boxes.values()) == sum(len(r.recipients) for r in by_seq)
    assert sum(len(b) for b in boxes.values()) == sum(len(p.recipients) for p in posts)
    # and admission continues where it stopped: the next seq, the next log index
    after = await sealed(h, "AZ", threat("AZ", title="After the restart"))
    status, body = await post_raw(h, m["AZ"].client, after.envelope)
    assert status == 201, body
    r = await receipt_of(m["AZ"].client, body, after)
    assert r.seq == len(posts) + 1
    assert r.log_index == len(await log_leaves(h)) - 1


# --- batches of at most max_batch --------------------------------------------------------


async def test_a_burst_larger_than_a_batch_is_split_in_order(harness: Harness) -> None:
    """25 posts held together, at most 10 per transaction: three batches, one after the
    other, each State's supersedes chain crossing the batch boundaries."""
    h = harness
    m = await h.cac(observer=False)
    h.server.exchange.admissions.max_batch = 10
    posts: list[Post] = []
    last: dict[str, str] = {}
    for i in range(25):
        party = CAC[i % len(CAC)]
        b = threat(party, supersedes=last.get(party), title=f"Chain link {i}")
        posts.append(await sealed(h, party, b))
        last[party] = b["bid"]
    batches = Batches(h)
    Hold(h, len(posts), key=in_order(posts))
    size_before = len(await log_leaves(h))

    replies = await fire(h, posts)

    bids = [p.bid for p in posts]
    assert batches.batches == [bids[:10], bids[10:20], bids[20:]]
    assert [s for s, _ in replies] == [201] * 25, replies
    receipts = [
        await receipt_of(m[p.party].client, body, p)
        for p, (_, body) in zip(posts, replies, strict=True)
    ]
    assert [r.seq for r in receipts] == list(range(1, 26))
    assert [r.log_index for r in receipts] == list(range(size_before, size_before + 25))
    stamps = [r.accepted_at for r in receipts]
    assert stamps == sorted(stamps), "accepted_at grows with seq"
    await check_logged(h, receipts)
    boxes = await inboxes(h)
    for party in CAC:
        assert [i["bid"] for i in boxes[party]] == [p.bid for p in posts if p.party != party]
        mine = [p.bulletin for p in posts if p.party == party]
        own = await whole_inbox(m[CAC[(CAC.index(party) + 1) % 6]].client)
        got = [i["supersedes"] for i in own if i["iss"] == party]
        assert got == [None, *(b["bid"] for b in mine[:-1])], party


# --- a batch that fails as a whole is retried item by item -----------------------------------


async def test_unforeseen_failure_of_one_item_is_isolated(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, server_errors: ErrorBudget
) -> None:
    h = harness
    m = await h.cac(observer=False)
    posts = [await sealed(h, *mixed_burst_bulletin(i)) for i in range(10)]
    doomed = posts[4]
    real_receipt = admission._receipt
    calls: list[str] = []

    def receipt(ex: Any, body: dict[str, Any]) -> str:
        calls.append(body["bid"])
        if body["bid"] == doomed.bid:
            raise RuntimeError("an unforeseen failure while admitting one item")
        return real_receipt(ex, body)

    monkeypatch.setattr(admission, "_receipt", receipt)
    batches = Batches(h)
    # posts[2] goes twice: the copies are next to each other in the batch
    Hold(h, len(posts) + 1, key=in_order(posts))
    size_before = len(await log_leaves(h))

    replies = await fire(h, [*posts, posts[2]])

    bids = [p.bid for p in posts]
    assert batches.batches == [[*bids[:3], bids[2], *bids[3:]]], batches.batches
    # the batch got as far as the doomed item, then each item was retried alone (the
    # second copy of posts[2] then found the first one stored, and made no receipt)
    assert calls == bids[:5] + bids
    expect_problem(replies[4], 500, "internal")
    server_errors.expected = 1  # that 500 is logged, once
    assert sorted([replies[2][0], replies[-1][0]]) == [200, 201]
    assert replies[2][1] == replies[-1][1]
    replies = replies[:-1]
    good = [p for p in posts if p is not doomed]
    receipts = [await receipt_of(m[p.party].client, replies[posts.index(p)][1], p) for p in good]
    # nothing of the rolled-back batch survives: seqs and log indices start afresh
    assert [r.seq for r in receipts] == list(range(1, len(good) + 1))
    assert [r.log_index for r in receipts] == list(range(size_before, size_before + len(good)))
    logged = await check_logged(h, receipts)
    assert set(logged) == {p.bid for p in good}
    await assert_no_trace(h, doomed, logged)
    boxes = await inboxes(h)
    assert sum(len(b) for b in boxes.values()) == sum(len(p.recipients) for p in good)


async def test_a_failed_live_delivery_fails_no_stored_post(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, server_errors: ErrorBudget
) -> None:
    """The hub is told after the commit; if that fails, the posts are still answered
    201 with their receipts and the streams get them from the database."""
    h = harness
    m = await h.cac(observer=False)
    listener = Collector(m["UZ"].client)
    posts = [await sealed(h, *mixed_burst_bulletin(i)) for i in range(6)]
    hub = h.server.exchange.hub
    real_publish = hub.publish
    failed: list[int] = []

    def publish(arrivals: Any) -> None:
        if not failed:
            failed.append(1)
            raise RuntimeError("the hub failed")
        real_publish(arrivals)

    monkeypatch.setattr(hub, "publish", publish)
    Hold(h, len(posts), key=in_order(posts))
    replies = await fire(h, posts)
    server_errors.expected = 1  # the hub's failure is logged, once
    assert failed == [1]
    assert [status for status, _ in replies] == [201] * len(posts)
    for p, (_status, body) in zip(posts, replies, strict=True):
        await receipt_of(m[p.party].client, body, p)
    for_uz = [p.bid for p in posts if "UZ" in p.recipients]
    await listener.until(lambda: set(for_uz) <= set(listener.bids))
    assert [b for b in listener.bids if b in for_uz] == for_uz
    await listener.stop()
