"""Node start-up: set up (``setup``), serve one process (``server``) or several
(``workers``), and the HTTP connection handling around the API (``http``).

The API application (``exchange.api``) knows nothing of processes, sockets or signals;
this package is the only one that wires the services to a listening socket."""

from exchange.node.serve import serve
from exchange.node.server import RunningServer, banner, start, stop_on_signals
from exchange.node.setup import init, open_exchange

__all__ = ["RunningServer", "banner", "init", "open_exchange", "serve", "start", "stop_on_signals"]
