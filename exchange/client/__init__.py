"""The SDK: an async client that signs every request (PROTOCOL §6), verifies the signed
directory, seals and opens bulletins, follows the stream and acks."""

from exchange.client.api import ExchangeClient, Receipt
from exchange.client.directory import Directory

__all__ = ["Directory", "ExchangeClient", "Receipt"]
