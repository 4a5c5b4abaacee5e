"""An independent check of a push's RFC 9421 signature: the signature base rebuilt by
hand from the RFC's rules (§2.5) and verified with ``cryptography`` directly, with no
code of the exchange or of the signing library."""

from __future__ import annotations

import base64
import hashlib
import re

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = ["verify_independently"]


def verify_independently(
    method: str, url: str, headers: dict[str, str], body: bytes, public_raw: bytes
) -> dict[str, str]:
    """Raise on any mismatch; return the signature's parameters."""
    h = {k.lower(): v for k, v in headers.items()}
    # RFC 9530: Content-Digest is sha-256 of the body as sent
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    assert h["content-digest"] == f"sha-256=:{digest}:", h["content-digest"]
    m = re.fullmatch(r"avsec=(\(.*\))(;.*)", h["signature-input"])
    assert m, h["signature-input"]
    components = re.findall(r'"([^"]+)"', m.group(1))
    assert components == ["@method", "@target-uri", "content-type", "content-digest"]
    params = dict(re.findall(r';([a-z]+)=("[^"]*"|[0-9]+)', m.group(2)))
    values = {
        "@method": method,
        "@target-uri": url,
        "content-type": h["content-type"],
        "content-digest": h["content-digest"],
    }
    lines = [f'"{c}": {values[c]}' for c in components]
    lines.append(f'"@signature-params": {m.group(1)}{m.group(2)}')
    base = "\n".join(lines).encode()
    sig = re.fullmatch(r"avsec=:([A-Za-z0-9+/=]+):", h["signature"])
    assert sig, h["signature"]
    Ed25519PublicKey.from_public_bytes(public_raw).verify(base64.b64decode(sig.group(1)), base)
    return {k: v.strip('"') for k, v in params.items()}
