"""Bridges to the tools States already run: STIX 2.1, TAXII 2.1 and MISP.

The server holds only ciphertext, so every bridge runs on the State's side, as an SDK
client: it exports what this party has opened and verified, and turns other tools' data
into draft bulletins that a person reviews and posts. See docs/interop.md.
"""

__all__: list[str] = []
