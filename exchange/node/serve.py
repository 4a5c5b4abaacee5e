"""``exchange serve``: one node process, or a supervisor of several (``--workers``)."""

from __future__ import annotations

from exchange.config import ServerConfig
from exchange.logs import setup_logging
from exchange.node.server import run_node
from exchange.node.workers import supervise

__all__ = ["serve"]


async def serve(config: ServerConfig) -> None:
    """Run until SIGINT/SIGTERM; then stop accepting, finish in-flight requests and
    close streams with 1001 (going away)."""
    setup_logging(config.log_level, config.log_file)
    if config.workers > 1:
        await supervise(config)
        return
    await run_node(config)
