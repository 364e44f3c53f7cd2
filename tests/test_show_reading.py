"""`show` reads a quartile flag with the metric's direction: high absenteeism is a concern,
a high graduation rate good news, and a metric without a direction gets no reading."""

import pytest

from districtbench.metrics.definitions import METRICS_BY_KEY
from districtbench.reporting.show import reading


@pytest.mark.parametrize(
    ("key", "flag", "expected"),
    [
        ("absenteeism", "well_above", "concern"),
        ("absenteeism", "below", "good"),
        ("student_teacher_ratio", "above", "concern"),
        ("graduation", "well_above", "good"),
        ("math_proficiency", "well_below", "concern"),
        ("swd_pct", "well_above", None),
        ("expenditure_pp", "below", None),
        ("graduation", None, None),
    ],
)
def test_flag_reading_follows_the_metric_direction(key, flag, expected):
    assert reading(METRICS_BY_KEY[key], flag) == expected
