"""Range checks shared by the schemas' ``__post_init__``: one-line ``UsageError`` naming the key."""

from __future__ import annotations

from vjepa_bench.errors import UsageError


def check_count(key: str, value: int, minimum: int) -> None:
    """A ``UsageError`` naming ``key`` unless ``value`` is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise UsageError(f"{key}={value!r}: must be an integer >= {minimum}")
