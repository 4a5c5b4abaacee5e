"""The HTTP layer: parses requests, calls the service layer, formats answers (never the
store)."""

__all__: list[str] = []
