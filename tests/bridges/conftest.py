"""The command-line fixtures (a real ``exchange serve``, the in-process CLI) for the
bridge commands' tests."""

from cli.conftest import clean_env, cli, examples, served

__all__ = ["clean_env", "cli", "examples", "served"]
