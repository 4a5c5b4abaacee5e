"""AVSEC Exchange: signed, end-to-end encrypted bulletins between aviation-security authorities."""

__all__ = ["__version__"]

__version__ = "0.1.0"
