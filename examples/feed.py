#!/usr/bin/env python3
"""An automated threat-assessment feed for AVSEC Exchange (see examples/README.md).

It posts threat assessments to ``@subscribers``: every group subscribed to the feed's
party receives those that match the group's filter. The assessments come from a JSON-lines
file (one object per line: ``title``, ``body`` and optionally ``type``, ``priority``,
``tlp``, ``exp``, ``lang``; times as seconds or ISO 8601) or, with ``--generate``, are
made up: realistic but SIMULATED assessments for the Central Asia/Caucasus region.
With ``--stix-dir`` it is a STIX producer's relay: every STIX 2.1 bundle (``*.json``) in
the folder becomes draft bulletins (``exchange.bridges``, as ``exchange import stix``),
each conversion warning is printed, and the drafts are posted.

    python examples/feed.py --profile keys/ICAO-TA/feed --generate --count 10 --interval 2
    python examples/feed.py --profile keys/ICAO-TA/feed --file examples/threat-assessments.jsonl
    python examples/feed.py --profile keys/ICAO-TA/feed --stix-dir incoming/ --interval 0

Only the public SDK is used: ``ExchangeClient.from_profile``, ``new_bulletin``, ``post``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from exchange.bridges.stix_import import drafts_from_stix
from exchange.bulletin.validate import new_bulletin
from exchange.client import ExchangeClient
from exchange.errors import ExchangeError, InputError, RateLimited, StorageError

SUBSCRIBERS = "@subscribers"

#: ICAO location indicators of the region's main aerodromes.
AERODROMES = {
    "UAAA": "Almaty",
    "UBBB": "Baku Heydar Aliyev",
    "UGTB": "Tbilisi",
    "UCFM": "Bishkek Manas",
    "UTDD": "Dushanbe",
    "UTTT": "Tashkent",
}
#: Threat level -> bulletin priority and TLP.
LEVELS = {
    "low": ("routine", "green"),
    "moderate": ("routine", "green"),
    "substantial": ("priority", "amber"),
    "severe": ("immediate", "amber"),
    "critical": ("flash", "amber"),
}
SCENARIOS: dict[str, dict[str, Any]] = {
    "manpads": {
        "levels": ["substantial", "severe", "critical"],
        "title": "MANPADS threat to arrivals and departures at {name} ({icao})",
        "summary": "Reporting indicates that a non-state group near {name} may hold "
        "man-portable air-defence systems and has shown interest in the approach and "
        "climb-out paths of {icao}. Aircraft below FL150 within 30 NM are assessed to be "
        "within reach.",
        "advice": [
            "Aircraft operators: minimise time below FL150 within 30 NM of {icao}.",
            "Airport operator: patrol areas under the approach and departure paths.",
        ],
    },
    "uas": {
        "levels": ["low", "moderate", "substantial"],
        "title": "Unauthorised UAS activity near {name} ({icao})",
        "summary": "Several sightings of small unmanned aircraft within 5 NM of {icao} "
        "during evening hours. Intent unknown; no interference with traffic so far.",
        "advice": [
            "Crews: report any UAS sighting to {icao} tower at once.",
            "Airport operator: activate UAS detection on the approach sectors.",
        ],
    },
    "gnss-interference": {
        "levels": ["low", "moderate", "substantial"],
        "title": "GNSS interference on routes into {name} ({icao})",
        "summary": "Crews report GNSS position loss and spoofed positions at and above "
        "FL100 on arrival routes into {icao}; ground-based aids are unaffected.",
        "advice": ["Crews: cross-check position with conventional aids; report anomalies."],
    },
    "insider": {
        "levels": ["moderate", "substantial", "severe"],
        "title": "Insider threat: misuse of airside passes at {name} ({icao})",
        "summary": "An investigation at {icao} found airside identification cards used "
        "outside their holders' shifts; links to smuggling networks are being assessed.",
        "advice": [
            "Airport operator: audit airside pass use and revalidate escorted access.",
            "Screen staff and their items at staff checkpoints without exception.",
        ],
    },
    "cyber": {
        "levels": ["low", "moderate", "substantial"],
        "title": "Phishing campaign against aviation staff at {name} ({icao})",
        "summary": "A phishing campaign impersonating the civil aviation authority targets "
        "staff of the {icao} airport operator and ground handlers, seeking credentials "
        "for departure control systems.",
        "advice": ["IT security teams: block the reported senders; reset exposed accounts."],
    },
}


def generate(rng: random.Random, now: int) -> dict[str, Any]:
    """One SIMULATED threat assessment (fields for ``new_bulletin``)."""
    category = rng.choice(sorted(SCENARIOS))
    s = SCENARIOS[category]
    icao = rng.choice(sorted(AERODROMES))
    names = {"icao": icao, "name": AERODROMES[icao]}
    level = rng.choice(s["levels"])
    priority, tlp = LEVELS[level]
    hours = rng.choice([24, 72, 168])
    body = {
        "summary": "SIMULATED. " + s["summary"].format(**names),
        "threat_level": level,
        "categories": [category],
        "locations": [icao],
        "valid_from": now,
        "valid_until": now + hours * 3600,
        "confidence": rng.choice(["low", "moderate", "high"]),
        "sources": ["examples/feed.py --generate (simulated data)"],
        "recommendations": [a.format(**names) for a in s["advice"]],
    }
    return {
        "type": "threat-assessment",
        "title": "SIMULATED: " + s["title"].format(**names),
        "priority": priority,
        "tlp": tlp,
        "exp": now + hours * 3600,
        "body": body,
    }


def _epoch(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
        except ValueError:
            return value
    return value


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The assessments of a JSON-lines file; blank lines and ``#`` comments are skipped."""
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                item = json.loads(line)
            except ValueError as exc:
                raise InputError(f"{path}:{number}: not JSON: {exc}") from exc
            if not isinstance(item, dict) or "title" not in item or "body" not in item:
                raise InputError(f"{path}:{number}: needs an object with title and body")
            body = dict(item["body"])
            for key in ("valid_from", "valid_until"):
                if key in body:
                    body[key] = _epoch(body[key])
            yield {**item, "body": body, "exp": _epoch(item.get("exp"))}


def read_stix_dir(folder: Path) -> Iterator[dict[str, Any]]:
    """The drafts of every STIX bundle in the folder, in file-name order; the warnings of
    each conversion are printed, a file that is not a bundle is reported and skipped."""
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder")
    for path in sorted(folder.glob("*.json")):
        try:
            drafts = drafts_from_stix(path.read_bytes(), path.name)
        except ExchangeError as exc:
            progress(f"{path.name}: skipped: {exc.detail}", done=True)
            continue
        for d in drafts:
            for w in d.warnings:
                progress(f"{path.name}: warning: {w}", done=True)
            yield dict(d.fields)


def bulletin(client: ExchangeClient, fields: dict[str, Any]) -> dict[str, Any]:
    return new_bulletin(
        iss=client.party,
        type=fields.get("type", "threat-assessment"),
        title=fields["title"],
        body=fields["body"],
        now=int(time.time()),
        groups=[SUBSCRIBERS],
        priority=fields.get("priority") or "routine",
        tlp=fields.get("tlp", "amber"),
        lang=fields.get("lang", "en"),
        exp=fields.get("exp"),
    )


def progress(text: str, *, done: bool = False) -> None:
    """A progress line, redrawn in place on a terminal."""
    if sys.stdout.isatty():
        end = "\n" if done else ""
        sys.stdout.write("\r\033[K" + text + end)
    else:
        sys.stdout.write(text + "\n")
    sys.stdout.flush()


async def post_one(client: ExchangeClient, b: dict[str, Any], attempts: int = 5) -> Any:
    """Post, waiting out rate limits and short outages."""
    delay = 1.0
    for attempt in range(attempts):
        try:
            return await client.post(b)
        except RateLimited as exc:
            await asyncio.sleep(exc.retry_after)
        except StorageError:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
    raise StorageError("gave up after repeated rate limiting")


async def run(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)  # noqa: S311 - picks scenarios, not secrets
    if args.generate:
        source: Iterator[dict[str, Any]] = (
            generate(rng, int(time.time())) for _ in itertools.count()
        )
    elif args.stix_dir:
        source = read_stix_dir(Path(args.stix_dir))
    else:
        source = read_jsonl(Path(args.file))
    if args.count is not None:
        source = itertools.islice(source, args.count)
    posted = failed = 0
    total = "?" if args.count is None else str(args.count)
    async with ExchangeClient.from_profile(args.profile) as client:
        for n, fields in enumerate(source, 1):
            if n > 1:
                await asyncio.sleep(args.interval)
            try:
                r = await post_one(client, bulletin(client, fields))
            except StorageError:
                raise
            except ExchangeError as exc:  # this one is refused; carry on with the next
                failed += 1
                progress(f"[{n}/{total}] refused: {exc.detail}", done=True)
                continue
            posted += 1
            body = fields["body"]
            what = " ".join(
                ",".join(v) if isinstance(v, list) else str(v)
                for v in (body.get("threat_level"), body.get("categories"), body.get("locations"))
                if v
            )
            progress(
                f"[{n}/{total}] posted seq {r.seq} to {len(r.recipients)} parties: "
                f"{fields.get('type', 'threat-assessment')} {what}  "
                f"({posted} posted, {failed} refused)"
            )
    progress(f"done: {posted} posted, {failed} refused", done=True)
    return 0 if failed == 0 else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--profile",
        default=os.environ.get("EXCHANGE_PROFILE"),
        help="the feed client's profile folder (env EXCHANGE_PROFILE)",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--file", metavar="JSONL", help="threat assessments, one JSON per line")
    src.add_argument("--generate", action="store_true", help="make up SIMULATED ones")
    src.add_argument("--stix-dir", metavar="DIR", help="post the STIX 2.1 bundles of a folder")
    p.add_argument("--count", type=int, metavar="N", help="stop after N (default: all/forever)")
    p.add_argument("--interval", type=float, default=5.0, metavar="S", help="seconds between")
    p.add_argument("--seed", type=int, help="random seed for --generate")
    args = p.parse_args(argv)
    if not args.profile:
        p.error("pass --profile DIR or set EXCHANGE_PROFILE")
    try:
        return asyncio.run(run(args))
    except KeyboardInterrupt:
        progress("stopped", done=True)
        return 0
    except ExchangeError as exc:
        return fail(exc.detail)
    except OSError as exc:
        return fail(str(exc))


def fail(message: str) -> int:
    if sys.stdout.isatty():
        print()  # end the progress line
    print(f"feed: error: {message}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
