"""Round trips and missed deadlines as the world sees them."""

import math

import pytest

from dagger_ros.core.loop_timing import MAX_PENDING, RoundTrips


def test_round_trip_runs_from_the_first_send_to_the_first_command():
    timing = RoundTrips()
    timing.sent(1, 10.0)
    timing.sent(1, 10.5)  # a re-send keeps the first time
    assert timing.answered(1, 10.75) == pytest.approx(0.75)
    assert timing.answered(1, 11.0) is None, 'a second command for the same seq is no sample'
    assert timing.answered(2, 11.0) is None, 'a command for a seq never sent is no sample'
    timing.sent(1, 12.0)  # an answered seq is not restarted by a late re-send
    assert timing.report().round_trips_s == (0.75,)


def test_clocked_world_counts_the_ticks_whose_command_was_late():
    timing = RoundTrips()
    for seq in range(10):
        timing.sent(seq, float(seq))
        if seq % 2 == 0:
            timing.answered(seq, seq + 0.001)
        timing.tick(seq)
    report = timing.report()
    assert (report.ticks, report.missed) == (10, 5)
    assert len(report.round_trips_s) == 5


def test_report_covers_only_its_interval():
    timing = RoundTrips()
    timing.sent(0, 0.0)
    timing.answered(0, 0.002)
    timing.tick(0)
    first = timing.report()
    assert first.percentile_ms(50) == pytest.approx(2.0)
    second = timing.report()
    assert (second.round_trips_s, second.ticks, second.missed) == ((), 0, 0)
    assert math.isnan(second.percentile_ms(99))


def test_unanswered_observations_are_forgotten_beyond_the_pending_limit():
    timing = RoundTrips()
    for seq in range(MAX_PENDING + 10):
        timing.sent(seq, float(seq))
    assert timing.answered(0, 1e6) is None, 'the oldest unanswered seq was dropped'
    assert timing.answered(MAX_PENDING + 9, MAX_PENDING + 9.5) == pytest.approx(0.5)
    # a clock that went back (another clock source) gives 0, never a negative round trip
    timing.sent(10_000, 5.0)
    assert timing.answered(10_000, 4.0) == 0.0
