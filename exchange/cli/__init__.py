"""The ``exchange`` command line: server set-up, key generation, administration, posting,
reading and watching bulletins. Entry point :func:`exchange.cli.main.main`."""

from __future__ import annotations

__all__: list[str] = []
