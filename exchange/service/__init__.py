"""Domain operations of the server: the API layer parses and formats, this layer decides,
``exchange.store`` persists, ``exchange.crypto`` and ``exchange.routing`` compute. The
node's services are built in ``core.Exchange`` (the composition root); nothing else here
imports it."""

__all__: list[str] = []
