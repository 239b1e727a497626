"""pipeline.units: the one byte-count rule, printed (format_bytes) and read back (parse_size)."""
from __future__ import annotations

import pytest

from pipeline.units import format_bytes, parse_size

UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def test_each_binary_unit_starts_at_its_power_of_1024():
    assert format_bytes(None) == "-"
    assert [format_bytes(n) for n in (0, 1, 1023)] == ["0 B", "1 B", "1023 B"]
    for power, unit in enumerate(UNITS[1:], start=1):
        assert format_bytes(1024**power) == f"1.0 {unit}"
        assert format_bytes(1.5 * 1024**power) == f"1.5 {unit}"
        assert format_bytes(1024**power - 1).split()[1] == UNITS[power - 1]
    assert format_bytes(1024**5) == "1024.0 TiB"  # no larger unit


def test_printed_sizes_read_back_to_the_same_bytes():
    for n in (1536, 253 * 2**20 + 123_456, 3 * 2**30, 2**40 + 2**39):
        number, unit = format_bytes(n).split()
        assert abs(parse_size(number + unit) - n) <= 0.05 * 1024 ** UNITS.index(unit), (n, number, unit)
    assert parse_size("2GB") == parse_size("2 GiB") == parse_size("2g") == 2 * 2**30
    assert parse_size(" 1.5k ") == 1536 and parse_size("4096") == parse_size(4096) == 4096


def test_a_size_that_cannot_be_read_names_the_text():
    for text in ("lots", "2 parsecs", "1.2.3MB", ""):
        with pytest.raises(ValueError, match=f"cannot read {text!r} as a size"):
            parse_size(text)
