"""COPY's binary format (db/binary_copy.py) as the peer tables use it (metrics/peers_store.py):
the bytes PostgreSQL's documented layout gives, built here with struct, both ways; and the
columns and streams that fall back to text."""

from __future__ import annotations

import struct

import numpy as np

from districtbench.db.binary_copy import Coded, decode, encode
from districtbench.metrics.peers_store import _text_copy, _tokens, _units


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
    assert encode([Coded(np.array([0, 1]), leaids), ranks, distances]) == expected
    assert encode([Coded(np.array([1, 0, 1]), leaids)]) == (
        b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
        + b"".join(struct.pack(">hi", 1, 7) + leaids[i].encode() for i in (1, 0, 1)) + struct.pack(">h", -1)
    )


def test_columns_the_binary_format_does_not_take_fall_back_to_text():
    ok = Coded(np.array([0, 1]), np.array(["0100005", "0100006"], dtype=object))

    def coded(*labels):
        return Coded(np.arange(len(labels)), np.array(labels, dtype=object))

    assert encode([coded("010005", "0100006")]) is None  # lengths differ
    assert encode([coded("01000é5", "0100006")]) is None  # not ASCII
    assert encode([coded(None, "0100006")]) is None  # NULL
    assert encode([ok, np.array([1, 2], dtype=np.int64)]) is None  # not int32
    assert encode([ok, np.array(["a", "b"], dtype=object)]) is None  # strings not coded
    assert encode([ok.values()]) is None  # not an array
    assert _text_copy([ok, [None, "well_above"], [0.1, 2.5], [3, None]]) == (
        "0100005\t\\N\t0.1\t3\n0100006\twell_above\t2.5\t\\N\n"
    )


HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)


def _row(*fields: bytes | None) -> bytes:
    return struct.pack(">h", len(fields)) + b"".join(
        struct.pack(">i", -1) if f is None else struct.pack(">i", len(f)) + f for f in fields)


def test_binary_rows_of_fixed_records_decode_to_columns():
    rows = [(b"0100005", 1, 0.5, True, -(2**40)), (b"4823640", 20, 1.2345678901234567, False, 7)]
    data = HEADER + b"".join(
        _row(leaid, struct.pack(">i", rank), struct.pack(">d", d), struct.pack(">?", flag), struct.pack(">q", big))
        for leaid, rank, d, flag, big in rows) + struct.pack(">h", -1)
    leaid, rank, distance, flag, big = decode(data, ("text", "int4", "float8", "bool", "int8"))
    assert leaid.tolist() == [b"0100005", b"4823640"]
    assert rank.tolist() == [1, 20] and rank.dtype == np.dtype("int32")
    assert distance.tolist() == [0.5, 1.2345678901234567]
    assert flag.tolist() == [True, False] and big.tolist() == [-(2**40), 7]
    # with a header extension area (its length, then its bytes), the same
    extended = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 3) + b"xyz" + data[len(HEADER):]
    assert decode(extended, ("text", "int4", "float8", "bool", "int8"))[1].tolist() == [1, 20]
    # no row: empty columns
    assert [len(c) for c in decode(HEADER + struct.pack(">h", -1), ("text", "int4"))] == [0, 0]


def test_binary_rows_that_are_not_fixed_records_are_not_decoded():
    end = struct.pack(">h", -1)
    one = _row(b"0100005", struct.pack(">i", 1))
    assert decode(HEADER + one + _row(b"010005", struct.pack(">i", 2)) + end, ("text", "int4")) is None  # widths
    assert decode(HEADER + one + _row(None, struct.pack(">i", 2)) + end, ("text", "int4")) is None  # a NULL
    assert decode(HEADER + _row(None, struct.pack(">i", 2)) + one + end, ("text", "int4")) is None  # NULL first
    assert decode(HEADER + one + end, ("text", "int8")) is None  # a 4-byte field asked for as 8 bytes
    assert decode(HEADER + one + end, ("text", "int4", "int4")) is None  # another field count
    assert decode(HEADER + one, ("text", "int4")) is None  # no trailer
    assert decode(b"COPY" + one + end, ("text", "int4")) is None  # no signature
    assert decode(HEADER + one + end, ("text", "int4"))[0].tolist() == [b"0100005"]


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


def test_copy_text_fields_become_the_columns_a_row_read_gives():
    from decimal import Decimal

    from districtbench.metrics.peers_sums import copy_columns

    labels = ["leaid", "stored_enrollment", "stored_children_poverty_percent", "avg_x", "avg_x__num"]
    text = "0100005\t120\t12.50\t3456\t99999999999999999999\n0100006\t\\N\t\\N\t\\N\t-7\n"
    columns = copy_columns(text, labels)
    assert columns["leaid"].tolist() == ["0100005", "0100006"]
    assert columns["stored_enrollment"].tolist() == [120, None]
    assert columns["stored_children_poverty_percent"].tolist() == [Decimal("12.50"), None]
    assert columns["avg_x"].tolist() == ["3456", None]  # a value as its exact text, as read
    assert columns["avg_x__num"].tolist() == [99999999999999999999, -7]  # beyond int64: Python integers
    assert copy_columns("", labels)["leaid"].tolist() == []
    assert copy_columns("01\\\\05\t1\t1\t1\t1\n", labels) is None  # an escaped backslash: not the value's text
    assert copy_columns("0100005\t1\n", labels) is None  # not whole rows


def test_joined_texts_become_arrays_of_the_same_values():
    # leaids of one width: bytes without a Python object each; any other text: token by token
    same_width = _tokens("0100005 0100006 5600730")
    assert same_width.dtype == np.dtype("S7") and same_width.tolist() == [b"0100005", b"0100006", b"5600730"]
    for text in ("0100005 010006", "0100005  0100006", " 0100005", "0100005 0100006 ", "010000é 0100006"):
        mixed = _tokens(text)
        assert mixed.dtype.kind == "U" and mixed.tolist() == text.split(" "), text
    assert _tokens("").tolist() == []

    assert _tokens("1 2 20 -3", np.int64).tolist() == [1, 2, 20, -3]
    doubles = [0.1, 1 / 3, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 3.0]
    parsed = _tokens(" ".join("%.17g" % v for v in doubles), np.float64)
    assert parsed.tolist() == doubles  # every double read back exactly
    # two spaces hide an empty token from numpy's parser: the token-by-token read refuses it
    for text in ("1  2", "1 x 2", "1 2.5"):
        try:
            values = _tokens(text, np.int64)
        except ValueError:
            continue
        raise AssertionError(f"{text!r} read as {values}")

    units, null = _units("125 N -7")
    assert units.tolist() == [125, 0, -7] and null.tolist() == [False, True, False]
