"""The State console: a web page for the officers, served on loopback by the State's
own machine as a client of the exchange (issue 13, docs/console.md).

It uses the SDK for everything (never the server's modules): the State's keys stay in
this process, and the browser sees only pages rendered from what the SDK verified."""

from exchange.console.runner import Console

__all__ = ["Console"]
