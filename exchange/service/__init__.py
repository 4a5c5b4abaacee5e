"""Domain operations of the server: the API layer parses and formats, this layer decides,
``exchange.store`` persists, ``exchange.crypto`` and ``exchange.routing`` compute."""

from exchange.service.core import Caller, Exchange

__all__ = ["Caller", "Exchange"]
