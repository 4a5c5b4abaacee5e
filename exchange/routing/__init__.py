"""Who receives a bulletin (PROTOCOL §5): a pure function of its metadata and the directory.

The server calls :func:`recipients` at admission and compares the answer with the JWE's
recipient kids; a client calls it before sealing, on its copy of the directory.
"""

from __future__ import annotations

from exchange.routing._directory import view_of
from exchange.routing._model import DirectoryView, Subscription
from exchange.routing._recipients import audience, recipients

__all__ = ["DirectoryView", "Subscription", "audience", "recipients", "view_of"]
