"""Fixtures the attack tests share with the areas they attack."""

from tests.serve.conftest import start_peer  # noqa: F401  (real peers on 127.0.0.1)
