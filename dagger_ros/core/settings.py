"""Metadata of a setting (a config dataclass field): read by node parameter descriptors.

``range`` is (low, high), None for an open side; ``read_only`` settings cannot change after the
node starts (structural ones: spaces, topics, files).
"""

from __future__ import annotations

from typing import Any


def meta(description: str, unit: str = '', lo: float | None = None, hi: float | None = None,
         read_only: bool = False) -> dict[str, Any]:
    """The metadata dict of one setting."""
    return {'description': description, 'unit': unit, 'range': (lo, hi), 'read_only': read_only}


def fixed_meta(description: str, unit: str = '', lo: float | None = None,
               hi: float | None = None, read_only: bool = True) -> dict[str, Any]:
    """The metadata of a setting that is read-only unless said otherwise."""
    return meta(description, unit, lo, hi, read_only)
