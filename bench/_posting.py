"""Posting bulletins from Python at a fixed rate (open loop), recording when each was
sent, answered and accepted: the load of bench/fanout.py and bench/subscribers.py."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from typing import Any

from _bulletins import token

from exchange.crypto.keys import (
    Ed25519Signer,
)


def receipt_fields(receipt: str) -> dict[str, Any]:
    """The payload of a receipt JWS, with ``accepted_at`` as epoch seconds."""
    import base64
    import datetime as dt

    payload = receipt.split(".")[1]
    data = dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))
    at = dt.datetime.strptime(data["accepted_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
    data["accepted_s"] = at.replace(tzinfo=dt.UTC).timestamp()
    return data


async def post_at_rate(
    url: str, posts: Sequence[tuple[str, Ed25519Signer, str]], rate: float
) -> list[dict[str, Any]]:
    """POST each envelope once, starting one every 1/rate s whatever the answers (open
    loop); tokens are made just before the run. Returns per post: t_send, t_resp,
    status, and the receipt's seq, recipients and accepted_s."""
    import aiohttp

    bodies = [
        (env.encode("ascii"), token(s, cid, "POST", "/v1/bulletins", env.encode("ascii")))
        for cid, s, env in posts
    ]
    results: list[dict[str, Any]] = [{} for _ in bodies]
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=60)
    ) as session:

        async def one(i: int) -> None:
            body, tok = bodies[i]
            headers = {"Authorization": f"Bearer {tok}", "Content-Type": "application/jose"}
            t_send = time.time()
            try:
                async with session.post(url + "/v1/bulletins", data=body, headers=headers) as r:
                    data = await r.json(content_type=None)
                    status = r.status
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                results[i] = {"t_send": t_send, "status": type(exc).__name__}
                return
            res: dict[str, Any] = {"t_send": t_send, "t_resp": time.time(), "status": status}
            if status in (200, 201):
                res.update(receipt_fields(data["receipt"]))
            results[i] = res

        tasks = []
        start = time.perf_counter() + 0.05
        for i in range(len(bodies)):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
    return results
