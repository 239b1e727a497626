"""Byte counts in binary units, both ways: one rule for every size the project prints or reads.

A "K", "M", "G" or "T" always means 2**10, 2**20, 2**30 or 2**40 bytes, whether it is spelt
KB or KiB, so that a `--max-memory 2GB` budget and the "2.0 GiB" a log line prints are one number.
"""
from __future__ import annotations

import re

UNITS = {"": 1, "b": 1, "k": 2**10, "kb": 2**10, "kib": 2**10, "m": 2**20, "mb": 2**20, "mib": 2**20,
         "g": 2**30, "gb": 2**30, "gib": 2**30, "t": 2**40, "tb": 2**40, "tib": 2**40}
PRINTED = (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10))


def format_bytes(n: int | float | None) -> str:
    """'-' for None (a size not known); else in the largest of KiB, MiB, GiB, TiB not above n, one decimal
    ('1.0 KiB' for 1024, '253.1 MiB'), and a count under 1 KiB as whole bytes ('1023 B')."""
    if n is None:
        return "-"
    for unit, scale in PRINTED:
        if abs(n) >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:.0f} B"


def parse_size(text: str | int) -> int:
    """'2GB', '512MiB', '1.5g', '4096' -> bytes, in the binary units of format_bytes (1 GB = 2**30 bytes);
    ValueError naming the text when it is not a number with one of those units."""
    if isinstance(text, int):
        return text
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", str(text))
    if not match or match.group(2).lower() not in UNITS:
        raise ValueError(f"cannot read {text!r} as a size (e.g. 2GB, 512MiB)")
    return int(float(match.group(1)) * UNITS[match.group(2).lower()])
