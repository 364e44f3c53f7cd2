"""COPY's binary format of the peers rows (metrics/peers_store.py): the bytes PostgreSQL's
documented layout gives, built here with struct; and the columns that fall back to text."""

from __future__ import annotations

import struct

import numpy as np

from districtbench.metrics.peers_store import Coded, _binary_copy, _text_copy


def test_binary_rows_are_the_documented_layout():
    leaids = np.array(["0100005", "4823640"], dtype=object)
    ranks = np.array([1, 20], dtype=np.int32)
    distances = np.array([0.0, 1.2345678901234567])
    expected = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
    for leaid, rank, distance in zip(leaids, ranks.tolist(), distances.tolist()):
        expected += struct.pack(">h", 3)
        expected += struct.pack(">i", 7) + leaid.encode()
        expected += struct.pack(">ii", 4, rank)
        expected += struct.pack(">id", 8, distance)
    expected += struct.pack(">h", -1)
    assert _binary_copy([Coded(np.array([0, 1]), leaids), ranks, distances]) == expected
    assert _binary_copy([Coded(np.array([1, 0, 1]), leaids)]) == (
        b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
        + b"".join(struct.pack(">hi", 1, 7) + leaids[i].encode() for i in (1, 0, 1)) + struct.pack(">h", -1)
    )


def test_columns_the_binary_format_does_not_take_fall_back_to_text():
    ok = Coded(np.array([0, 1]), np.array(["0100005", "0100006"], dtype=object))

    def coded(*labels):
        return Coded(np.arange(len(labels)), np.array(labels, dtype=object))

    assert _binary_copy([coded("010005", "0100006")]) is None  # lengths differ
    assert _binary_copy([coded("01000é5", "0100006")]) is None  # not ASCII
    assert _binary_copy([coded(None, "0100006")]) is None  # NULL
    assert _binary_copy([ok, np.array([1, 2], dtype=np.int64)]) is None  # not int32
    assert _binary_copy([ok, np.array(["a", "b"], dtype=object)]) is None  # strings not coded
    assert _binary_copy([ok.values()]) is None  # not an array
    assert _text_copy([ok, [None, "well_above"], [0.1, 2.5], [3, None]]) == (
        "0100005\t\\N\t0.1\t3\n0100006\twell_above\t2.5\t\\N\n"
    )


def test_whole_numbers_read_as_text_or_integers_become_exact_integers():
    from districtbench.metrics.peers_sums import integers

    assert integers(["12", None, "-5", 7]).tolist() == [12, 0, -5, 7]
    assert integers(["12", "-5"]).dtype == np.int64
    huge = integers(["123456789012345678901234", None, "-1"])  # beyond int64: Python integers
    assert huge.dtype == object and huge.tolist() == [123456789012345678901234, 0, -1]


def test_decimal_texts_of_whole_units_equal_exact_integer_arithmetic():
    from districtbench.metrics.peers_store import _decimal_texts

    units = [0, 5, -5, 99, -100, 123456, -1, 2**62, -(2**62)]
    expected = [("-" if v < 0 else "") + f"{abs(v) // 100}.{abs(v) % 100:02d}" for v in units]
    assert _decimal_texts(np.array(units, dtype=np.int64)) == expected
    assert _decimal_texts(np.array(units + [10**30], dtype=object)) == expected + [f"{10**28}.00"]
