"""The tables bench/ingest.py prints at the end: the median rates against the lean
reference and the ceiling, the ML-DSA verify cost per post (issue 20), and the
``--workers`` comparison (issue 19)."""

from __future__ import annotations

from typing import Any

from _servers import CALLGRIND
from _stats import median, table

Key = tuple[int, str]  # (recipients, client key kind)


def pct(a: float, b: float) -> str:
    return f"{a / b * 100:.0f} %" if b == b and b else "n/a"


def summary(runs: list[dict[Key, dict[str, Any]]], keys: list[Key]) -> None:
    print("\n## Results (median over runs; first run apart; per-run lines above)\n")
    rows = []
    for key in keys:

        def med(what: str, field: str, first: bool = False, key: Key = key) -> float:
            xs = [r[key][what][field] for r in runs if what in r[key]]
            return (xs[0] if first else median(xs)) if xs else float("nan")

        ing, lean, ceil = med("ingest", "per_s"), med("lean", "per_s"), med("ceiling", "per_s")
        rows.append(
            [
                key[0],
                key[1],
                ing,
                med("ingest", "p99"),
                med("ingest", "cpu_ms"),
                lean,
                ceil,
                pct(ing, lean),
                pct(ing, ceil),
                pct(ceil, lean),
                pct(med("ingest", "per_s", True), med("lean", "per_s", True)),
                med("bare", "per_s"),
                " / ".join(r[key]["ingest"]["load"].split()[0] for r in runs),
            ]
        )
        if "dir" in CALLGRIND:  # lean/ingest instructions: the rate ratio of a CPU-bound node
            rows[-1] += [med("ingest", "ins"), med("lean", "ins"), med("ceiling", "ins")]
            rows[-1].append(pct(med("lean", "ins"), med("ingest", "ins")))
    head = ["recipients", "client keys", "ingest /s", "p99 ms", "CPU ms/post", "lean /s"]
    head += ["ceiling /s", "ingest/lean", "ingest/ceiling", "ceiling/lean", "run 1 ingest/lean"]
    head += ["bare /s", "load (1 min) per run"]
    if "dir" in CALLGRIND:
        head += ["ingest M instr/post", "lean M instr", "ceiling M instr", "lean/ingest instr"]
    print(table(head, rows))
    shapes = sorted({k[0] for k in keys})
    if not all((s, kind) in keys for s in shapes for kind in ("hybrid", "ed25519")):
        return
    print("\n## ML-DSA-65 verify cost per post (issue 20): hybrid vs Ed25519 client keys\n")
    print("(two composite verifies per post: the request token and the envelope)\n")
    rows = []
    for s in shapes:
        for what in ("ingest", "lean", "ceiling"):
            h = [r[(s, "hybrid")][what] for r in runs if what in r[(s, "hybrid")]]
            e = [r[(s, "ed25519")][what] for r in runs if what in r[(s, "ed25519")]]
            if not h or not e:
                continue
            ratio = median(x["per_s"] / y["per_s"] for x, y in zip(h, e, strict=True))
            extra = median(x["cpu_ms"] - y["cpu_ms"] for x, y in zip(h, e, strict=True))
            ins = median(x["ins"] - y["ins"] for x, y in zip(h, e, strict=True))
            rows.append([s, what, pct(ratio, 1.0), extra, extra / 2, ins])
    print(
        table(
            [
                "recipients",
                "server",
                "hybrid/Ed25519 rate",
                "extra CPU ms/post",
                "per verify",
                "extra M instr/post",
            ],
            rows,
        )
    )


def workers_summary(
    runs: list[dict[Key, dict[str, Any]]], keys: list[Key], workers: list[int], db: str
) -> None:
    """Issue 19: each worker count's rate, and its ratio to the first count's, per run
    (the two measured in the same repeat, on fresh databases, one after the other)."""
    first = workers[0]
    print(f"\n## serve --workers on {db} (median over runs)\n")
    head = ["recipients", "client keys"]
    head += [f"{n} worker{'s' if n > 1 else ''} /s" for n in workers]
    head += [f"CPU ms/post {n}w" for n in workers]
    head += [f"{n}w / {first}w" for n in workers[1:]]
    head += [f"{n}w / {first}w per run" for n in workers[1:]]
    rows = []
    for key in keys:
        rates = {n: [r[key][f"workers {n}"]["per_s"] for r in runs] for n in workers}
        cpu = {n: [r[key][f"workers {n}"]["cpu_ms"] for r in runs] for n in workers}
        ratios = {
            n: [a / b for a, b in zip(rates[n], rates[first], strict=True)] for n in workers[1:]
        }
        row: list[Any] = [key[0], key[1]]
        row += [median(rates[n]) for n in workers]
        row += [median(cpu[n]) for n in workers]
        row += [pct(median(ratios[n]), 1.0) for n in workers[1:]]
        row += [" / ".join(pct(x, 1.0) for x in ratios[n]) for n in workers[1:]]
        rows.append(row)
    print(table(head, rows))
