"""Duration and rate shorthands: examples, bad text, and format-then-parse round trips."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.scenario import format_duration, format_rate, parse_duration, parse_rate
from sim.scenario.units import BANDWIDTH_PATTERN, format_bandwidth, parse_bandwidth


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90.0),
        ("20ms", 0.02),
        ("6h", 21600.0),
        ("2d", 172800.0),
        ("1w", 604800.0),
        ("5m", 300.0),
        ("5min", 300.0),
        ("1h30m", 5400.0),
        (" 2H ", 7200.0),
        ("0.5", 0.5),
        ("1.5s", 1.5),
        (45, 45.0),
        (0.25, 0.25),
        (0, 0.0),
    ],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "per_second"),
    [
        ("10/min", 10 / 60),
        ("3.5/s", 3.5),
        ("100/h", 100 / 3600),
        ("2/d", 2 / 86400),
        ("40 / min", 40 / 60),
        ("7", 7.0),
        (3.5, 3.5),
    ],
)
def test_rates(text: object, per_second: float) -> None:
    assert parse_rate(text) == pytest.approx(per_second, rel=1e-15)


@pytest.mark.parametrize("bad", ["1 hour", "6hh", "h", "", "-5s", "1e999", True, None, [1]])
def test_bad_durations_say_what_is_expected(bad: object) -> None:
    with pytest.raises(ValueError, match=r"duration|expected"):
        parse_duration(bad)


@pytest.mark.parametrize("bad", ["10/minute", "10 per min", "0/s", "-1", 0, "/s", False])
def test_bad_rates_say_what_is_expected(bad: object) -> None:
    with pytest.raises(ValueError, match=r"rate|per second"):
        parse_rate(bad)


def test_formats_read_well() -> None:
    assert [format_duration(s) for s in (0, 0.02, 1.5, 90, 5400, 21600, 86400 * 2, 604800)] == [
        "0s",
        "20ms",
        "1.5s",
        "90s",
        "90m",
        "6h",
        "2d",
        "1w",
    ]
    assert [format_rate(r) for r in (3.5, 10 / 60, 100 / 3600, 2 / 86400)] == [
        "3.5/s",
        "10/min",
        "100/h",
        "2/d",
    ]


seconds = st.floats(min_value=0, max_value=1e12, allow_nan=False, allow_infinity=False)
whole = st.integers(min_value=0, max_value=10**9).map(float)
rates = st.floats(min_value=1e-9, max_value=1e9, allow_nan=False, allow_infinity=False)


@given(st.one_of(seconds, whole, st.integers(0, 10**6).map(lambda n: n / 1000)))
def test_duration_format_then_parse_round_trips(value: float) -> None:
    assert parse_duration(format_duration(value)) == value


@given(st.one_of(rates, st.integers(1, 10**6).map(lambda n: n / 60)))
def test_rate_format_then_parse_round_trips(value: float) -> None:
    assert parse_rate(format_rate(value)) == value


@pytest.mark.parametrize(
    ("text", "bits"),
    [
        ("10Mbit/s", 10e6),
        ("10 Mbit/s", 10e6),
        ("10mbit/s", 10e6),  # megabits: there are no millibits
        ("512kbit/s", 512e3),
        ("1.5Gbit/s", 1.5e9),
        ("64bit/s", 64.0),
        ("2400", 2400.0),
        (56000, 56000.0),
    ],
)
def test_bandwidths(text: object, bits: float) -> None:
    assert parse_bandwidth(text) == bits
    if isinstance(text, str):
        assert re.match(BANDWIDTH_PATTERN, text)  # the JSON Schema accepts it too


@pytest.mark.parametrize("bad", ["10MB/s", "10 Mbps", "fast", "0bit/s", "-1", 0, "", True, None])
def test_bad_bandwidths_say_what_is_expected(bad: object) -> None:
    with pytest.raises(ValueError, match=r"bandwidth|bits per second"):
        parse_bandwidth(bad)
    if isinstance(bad, str) and bad not in ("0bit/s", ""):
        assert not re.match(BANDWIDTH_PATTERN, bad)


def test_bandwidths_format_with_the_largest_unit_that_reads_back() -> None:
    assert [format_bandwidth(b) for b in (10e6, 1.5e9, 512e3, 64, 2400)] == [
        "10Mbit/s",
        "1.5Gbit/s",
        "512kbit/s",
        "64bit/s",
        "2.4kbit/s",
    ]


@given(st.floats(min_value=1e-3, max_value=1e15, allow_nan=False, allow_infinity=False))
def test_bandwidth_format_then_parse_round_trips(value: float) -> None:
    assert parse_bandwidth(format_bandwidth(value)) == value
