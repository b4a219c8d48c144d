"""BusinessCalendar: worked examples (Japanese 平日, year-end closures, DST), validation, specs and the laws."""

from __future__ import annotations

import functools
import itertools
import json
import pickle
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mdr.sla.calendar import BusinessCalendar

TOKYO = ZoneInfo("Asia/Tokyo")
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
US = timedelta(microseconds=1)
H = timedelta(hours=1)

WEEKDAYS_9_18 = {day: [("09:00", "18:00")] for day in range(5)}
YEAR_END = [date(year, 12, day) for year in range(2023, 2029) for day in (29, 30, 31)] + [
    date(year, 1, day) for year in range(2024, 2030) for day in (1, 2, 3, 4)
]


def tokyo_business() -> BusinessCalendar:
    """平日 as Japanese contracts define it: Mon-Fri 9-18 minus national holidays and 年末年始 12/29-1/4."""
    return BusinessCalendar(timezone="Asia/Tokyo", weekly_hours=WEEKDAYS_9_18, holidays=["JP"], extra_holidays=YEAR_END)


def new_york_lunch() -> BusinessCalendar:
    return BusinessCalendar(
        timezone="America/New_York",
        weekly_hours={day: [("09:00", "12:00"), ("13:00", "17:00")] for day in range(5)},
        holidays=["US"],
    )


def night_shift() -> BusinessCalendar:
    """Nights from Sunday evening to Saturday morning in a zone whose DST changes happen inside the shift."""
    return BusinessCalendar(
        timezone="Europe/Berlin",
        weekly_hours={
            0: [("00:00", "06:00"), ("22:00", "24:00")],
            1: [("00:00", "06:00"), ("22:00", "24:00")],
            2: [("00:00", "06:00"), ("22:00", "24:00")],
            3: [("00:00", "06:00"), ("22:00", "24:00")],
            4: [("00:00", "06:00"), ("22:00", "24:00")],
            5: [("00:00", "06:00")],
            6: [("00:00", "03:00"), ("22:00", "24:00")],
        },
        holidays=["DE"],
        extra_holidays=[date(2026, 12, 24)],
    )


CALENDARS = {
    "24x7-utc": BusinessCalendar.always(timezone="UTC"),
    "tokyo-business": tokyo_business(),
    "new-york-lunch": new_york_lunch(),
    "berlin-nights": night_shift(),
}


def utc(instant: datetime) -> datetime:
    # Arithmetic on ZoneInfo datetimes is wall-clock arithmetic; the laws are about instants.
    return instant.astimezone(UTC)


# --- worked examples --------------------------------------------------------------------------------------------


def test_friday_evening_plus_one_hour_is_monday_morning():
    # given
    cal = tokyo_business()
    friday = datetime(2026, 6, 5, 17, 30, tzinfo=TOKYO)

    # when
    due = cal.add(friday, H)

    # then
    assert due == datetime(2026, 6, 8, 9, 30, tzinfo=TOKYO)
    assert due.tzinfo == TOKYO


def test_japanese_public_holiday_is_skipped():
    # given: 2026-11-23 勤労感謝の日 is a Monday
    cal = tokyo_business()
    friday = datetime(2026, 11, 20, 17, 30, tzinfo=TOKYO)

    # when
    due = cal.add(friday, H)

    # then
    assert due == datetime(2026, 11, 24, 9, 30, tzinfo=TOKYO)
    assert not cal.is_working(datetime(2026, 11, 23, 10, 0, tzinfo=TOKYO))


def test_substitute_holiday_is_closed():
    # given: 2026-05-06 振替休日 (Constitution Day fell on Sunday)
    cal = tokyo_business()

    # when
    opens = cal.next_working(datetime(2026, 5, 1, 18, 0, tzinfo=TOKYO))

    # then
    assert opens == datetime(2026, 5, 7, 9, 0, tzinfo=TOKYO)


def test_year_end_closure_from_29_december_to_4_january():
    # given
    cal = tokyo_business()
    last_day = datetime(2026, 12, 28, 17, 30, tzinfo=TOKYO)

    # when
    due = cal.add(last_day, H)
    worked = cal.elapsed(datetime(2026, 12, 28, 9, 0, tzinfo=TOKYO), datetime(2027, 1, 6, 9, 0, tzinfo=TOKYO))

    # then
    assert due == datetime(2027, 1, 5, 9, 30, tzinfo=TOKYO)
    assert worked == 2 * 9 * H


def test_thirty_business_days():
    # given: 30 Tokyo business days of 9 h from the first working morning of 2026
    cal = tokyo_business()
    start = datetime(2026, 1, 5, 9, 0, tzinfo=TOKYO)

    # when
    due = cal.add(start, 30 * 9 * H)

    # then: 5-9, 13-16 (12th 成人の日), 19-23, 26-30 Jan; 2-6, 9-10, 12-13 (11th 建国記念の日), 16-17 Feb
    assert due == datetime(2026, 2, 17, 18, 0, tzinfo=TOKYO)


def test_whole_weeks_end_on_the_last_working_evening():
    # given: a Sunday before two weeks without Japanese holidays, and exactly two weeks of working time
    cal = tokyo_business()
    sunday = datetime(2026, 6, 7, 12, 0, tzinfo=TOKYO)

    # when
    due = cal.add(sunday, 2 * 45 * H)

    # then: Friday evening, not the following Monday morning
    assert due == datetime(2026, 6, 19, 18, 0, tzinfo=TOKYO)


def test_lunch_break_splits_the_day():
    # given: Tuesday with 09-12 and 13-18
    cal = BusinessCalendar(timezone="Asia/Tokyo", weekly_hours={1: [("09:00", "12:00"), ("13:00", "18:00")]})
    tuesday = datetime(2026, 6, 9, tzinfo=TOKYO)

    # when
    over_lunch = cal.add(tuesday.replace(hour=11, minute=30), H)
    to_lunch = cal.add(tuesday.replace(hour=11), H)

    # then: a duration that runs out at 12:00 ends there, not when work resumes at 13:00
    assert over_lunch == tuesday.replace(hour=13, minute=30)
    assert to_lunch == tuesday.replace(hour=12)
    assert not cal.is_working(tuesday.replace(hour=12, minute=30))
    assert cal.elapsed(tuesday, tuesday + timedelta(days=1)) == 8 * H


def test_midnight_end_joins_the_next_morning():
    # given: Monday 18:00-24:00 then Tuesday 00:00-06:00
    cal = BusinessCalendar(timezone="Asia/Tokyo", weekly_hours={0: [("18:00", "24:00")], 1: [("00:00", "06:00")]})
    monday = datetime(2026, 6, 8, tzinfo=TOKYO)

    # when
    due = cal.add(monday.replace(hour=23), 2 * H)
    intervals = cal.working_intervals(monday, monday + timedelta(days=2))

    # then
    assert due == datetime(2026, 6, 9, 1, 0, tzinfo=TOKYO)
    assert intervals == [(monday.replace(hour=18), datetime(2026, 6, 9, 6, 0, tzinfo=TOKYO))]
    assert cal.is_working(monday.replace(hour=23, minute=59, second=59))


def test_zero_duration_is_the_start_even_when_closed():
    # given: Saturday
    cal = tokyo_business()
    saturday = datetime(2026, 6, 6, 12, 0, tzinfo=TOKYO)

    # when
    due = cal.add(saturday, timedelta(0))

    # then: the earliest instant with zero elapsed time is the start itself; next_working is when work begins
    assert due == saturday
    assert cal.next_working(saturday) == datetime(2026, 6, 8, 9, 0, tzinfo=TOKYO)


def test_next_working_of_a_working_instant_is_itself():
    # given
    cal = tokyo_business()
    instant = datetime(2026, 6, 8, 0, 15, tzinfo=UTC)  # 09:15 in Tokyo

    # when
    result = cal.next_working(instant)

    # then
    assert result == instant
    assert result.tzinfo == TOKYO


@pytest.mark.parametrize(
    ("day", "hours"),
    [(date(2026, 3, 8), 23), (date(2026, 11, 1), 25), (date(2026, 6, 1), 24)],
    ids=["spring-forward", "fall-back", "ordinary"],
)
def test_24x7_local_day_lasts_its_real_length(day, hours):
    # given: the built-in 24x7 calendar and an explicit 00:00-24:00 one (the general path)
    always = BusinessCalendar.always(timezone="America/New_York")
    explicit = BusinessCalendar(timezone="America/New_York", weekly_hours={d: [("00:00", "24:00")] for d in range(7)})
    midnight = datetime.combine(day, datetime.min.time(), tzinfo=NEW_YORK)
    next_midnight = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=NEW_YORK)

    # when
    results = [cal.elapsed(midnight, next_midnight) for cal in (always, explicit)]

    # then
    assert results == [hours * H, hours * H]
    assert utc(explicit.add(midnight, hours * H)) == utc(next_midnight)


def test_interval_across_the_spring_gap_loses_the_missing_hour():
    # given: Sunday 01:00-04:00; on 2026-03-08 New York clocks jump from 02:00 to 03:00
    cal = BusinessCalendar(timezone="America/New_York", weekly_hours={6: [("01:00", "04:00")]})
    sunday = datetime(2026, 3, 8, tzinfo=NEW_YORK)

    # when
    worked = cal.elapsed(sunday, sunday + timedelta(days=1))
    intervals = cal.working_intervals(sunday, sunday + timedelta(days=1))

    # then
    assert worked == 2 * H
    assert [(utc(a), utc(b)) for a, b in intervals] == [
        (datetime(2026, 3, 8, 6, 0, tzinfo=UTC), datetime(2026, 3, 8, 8, 0, tzinfo=UTC))
    ]
    assert cal.add(sunday, 90 * timedelta(minutes=1)) == datetime(2026, 3, 8, 3, 30, tzinfo=NEW_YORK)


def test_interval_across_the_fall_back_overlap_counts_both_hours():
    # given: Sunday 00:30-01:30; on 2026-11-01 New York repeats 01:00-02:00
    cal = BusinessCalendar(timezone="America/New_York", weekly_hours={6: [("00:30", "01:30")]})
    sunday = datetime(2026, 11, 1, tzinfo=NEW_YORK)

    # when
    worked = cal.elapsed(sunday, sunday + timedelta(days=1))
    intervals = cal.working_intervals(sunday, sunday + timedelta(days=1))

    # then: 00:30-01:30 EDT, then 01:00-01:30 EST once more
    assert worked == 90 * timedelta(minutes=1)
    assert [(utc(a), utc(b)) for a, b in intervals] == [
        (datetime(2026, 11, 1, 4, 30, tzinfo=UTC), datetime(2026, 11, 1, 5, 30, tzinfo=UTC)),
        (datetime(2026, 11, 1, 6, 0, tzinfo=UTC), datetime(2026, 11, 1, 6, 30, tzinfo=UTC)),
    ]
    assert not cal.is_working(datetime(2026, 11, 1, 1, 45, tzinfo=NEW_YORK))
    assert cal.is_working(datetime(2026, 11, 1, 1, 15, fold=1, tzinfo=NEW_YORK))


def test_night_shift_across_the_spring_gap():
    # given: Berlin jumps from 02:00 to 03:00 on Sunday 2026-03-29, inside the Saturday-night shift
    cal = night_shift()
    saturday_evening = datetime(2026, 3, 28, 20, 0, tzinfo=BERLIN)

    # when
    worked = cal.elapsed(saturday_evening, datetime(2026, 3, 29, 12, 0, tzinfo=BERLIN))

    # then: Saturday has no evening shift; Sunday 00:00-03:00 is only 2 real hours
    assert worked == 2 * H


def test_results_are_in_the_calendar_time_zone():
    # given
    cal = tokyo_business()
    start = datetime(2026, 6, 8, 0, 0, tzinfo=UTC)

    # when
    results = [cal.add(start, H), cal.next_working(start), *cal.working_intervals(start, start + 2 * H)[0]]

    # then
    assert {r.tzinfo for r in results} == {TOKYO}


def test_calendar_without_hours_never_advances():
    # given
    cal = BusinessCalendar(timezone="UTC", weekly_hours={})
    start = datetime(2026, 6, 8, tzinfo=UTC)

    # when / then
    assert cal.elapsed(start, start + timedelta(days=30)) == timedelta(0)
    assert cal.add(start, timedelta(0)) == start
    with pytest.raises(ValueError, match="no working hours"):
        cal.add(start, H)
    with pytest.raises(ValueError, match="no working hours"):
        cal.next_working(start)


def test_long_durations_are_fast():
    # given
    cal = tokyo_business()
    start = datetime(2026, 6, 5, 17, 30, tzinfo=TOKYO)
    cal.add(start, timedelta(hours=2000))  # load the holiday years once

    # when
    began = time.perf_counter()
    due = cal.add(start, timedelta(hours=2000))
    took = time.perf_counter() - began
    decade = cal.add(start, timedelta(hours=25_000))

    # then
    assert took < 0.05
    assert cal.elapsed(start, due) == timedelta(hours=2000)
    assert cal.elapsed(start, decade) == timedelta(hours=25_000)


# --- input checks -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda cal, naive: cal.add(naive, H),
        lambda cal, naive: cal.elapsed(naive, datetime(2026, 1, 1, tzinfo=UTC)),
        lambda cal, naive: cal.elapsed(datetime(2026, 1, 1, tzinfo=UTC), naive),
        lambda cal, naive: cal.is_working(naive),
        lambda cal, naive: cal.next_working(naive),
        lambda cal, naive: cal.working_intervals(naive, datetime(2027, 1, 1, tzinfo=UTC)),
    ],
    ids=["add", "elapsed-start", "elapsed-end", "is_working", "next_working", "working_intervals"],
)
@pytest.mark.parametrize("cal", [tokyo_business(), BusinessCalendar.always()], ids=["weekly", "24x7"])
def test_naive_datetimes_are_refused(cal, call):
    # given
    naive = datetime(2026, 6, 8, 10, 0)  # naive on purpose

    # when / then
    with pytest.raises(ValueError, match="naive"):
        call(cal, naive)


def test_negative_duration_is_refused():
    # given
    cal = tokyo_business()

    # when / then
    with pytest.raises(ValueError, match="negative"):
        cal.add(datetime(2026, 6, 8, tzinfo=TOKYO), -H)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"timezone": "Asia/Tokio", "weekly_hours": {}}, "unknown time zone 'Asia/Tokio'"),
        ({"timezone": "UTC", "weekly_hours": {"0": [["9:00", "18:00"]]}}, "'9:00' is not a time of day"),
        ({"timezone": "UTC", "weekly_hours": {"0": [["09:00", "24:30"]]}}, "'24:30' is not a time of day"),
        ({"timezone": "UTC", "weekly_hours": {"0": [["18:00", "09:00"]]}}, "18:00-09:00 must start before"),
        ({"timezone": "UTC", "weekly_hours": {"0": [["09:00", "09:00"]]}}, "must start before it ends"),
        (
            {"timezone": "UTC", "weekly_hours": {"2": [["09:00", "12:00"], ["11:00", "13:00"]]}},
            r"weekly_hours\[2\]: intervals 09:00-12:00 and 11:00-13:00 overlap",
        ),
        ({"timezone": "UTC", "weekly_hours": {"7": [["09:00", "18:00"]]}}, "day '7' is outside 0"),
        ({"timezone": "UTC", "weekly_hours": {"0": ["09:00-18:00"]}}, "not a .start, end. pair"),
        ({"timezone": "UTC", "weekly_hours": {}, "holidays": ["XX"]}, "unknown holiday country code 'XX'"),
        ({"timezone": "UTC", "weekly_hours": {}, "extra_holidays": ["2026-13-01"]}, "not an ISO date"),
        ({"timezone": "UTC"}, "missing 'weekly_hours'"),
        ({"timezone": "UTC", "weekly_hours": {}, "holiday": ["JP"]}, r"unknown keys \['holiday'\]"),
        ({"type": "monthly", "timezone": "UTC"}, "unknown type 'monthly'"),
    ],
)
def test_invalid_specs_are_refused_with_a_clear_message(spec, message):
    # when / then
    with pytest.raises(ValueError, match=message):
        BusinessCalendar.from_dict(spec)


def test_constructor_validates_integer_day_keys():
    # when / then
    with pytest.raises(ValueError, match="day -1 is outside 0"):
        BusinessCalendar(timezone="UTC", weekly_hours={-1: [("09:00", "18:00")]})
    with pytest.raises(ValueError, match="unknown time zone"):
        BusinessCalendar.always(timezone="Mars/Olympus_Mons")


# --- spec, equality, repr -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cal", [*CALENDARS.values(), BusinessCalendar.always("Asia/Tokyo")], ids=[*CALENDARS, "24x7-tokyo"]
)
def test_dict_round_trip_through_json(cal):
    # when
    again = BusinessCalendar.from_dict(json.loads(json.dumps(cal.to_dict())))

    # then
    assert again == cal
    assert hash(again) == hash(cal)
    assert pickle.loads(pickle.dumps(cal)) == cal  # noqa: S301 - our own bytes


def test_to_dict_shape():
    # given
    cal = BusinessCalendar(
        timezone="Asia/Tokyo",
        weekly_hours={1: [("13:00", "18:00"), ("09:00", "12:00")], 0: [("09:00", "24:00")], 6: []},
        holidays=["jp"],
        extra_holidays=[date(2027, 1, 4), "2026-12-29"],
    )

    # when
    spec = cal.to_dict()

    # then
    assert spec == {
        "timezone": "Asia/Tokyo",
        "weekly_hours": {"0": [["09:00", "24:00"]], "1": [["09:00", "12:00"], ["13:00", "18:00"]]},
        "holidays": ["JP"],
        "extra_holidays": ["2026-12-29", "2027-01-04"],
    }
    assert BusinessCalendar.always("UTC").to_dict() == {"type": "24x7", "timezone": "UTC"}


def test_equality_is_by_spec():
    # given
    a = BusinessCalendar(timezone="UTC", weekly_hours={0: [("09:00", "12:00"), ("12:00", "18:00")]})
    b = BusinessCalendar(timezone="UTC", weekly_hours={"0": [["09:00", "18:00"]]})
    c = BusinessCalendar(timezone="UTC", weekly_hours={0: [("09:00", "17:00")]})

    # then: touching intervals are one interval
    assert a == b
    assert len({a, b, c}) == 2
    assert BusinessCalendar.always("UTC") != BusinessCalendar.always("Asia/Tokyo")
    assert BusinessCalendar.always("UTC") != BusinessCalendar(
        timezone="UTC", weekly_hours={d: [("00:00", "24:00")] for d in range(7)}
    )


def test_repr_is_short():
    # when
    text = repr(tokyo_business())

    # then
    assert text.startswith("<BusinessCalendar Asia/Tokyo Mon,Tue,Wed,Thu,Fri 45h/week holidays=JP")
    assert len(text) < 120
    assert repr(BusinessCalendar.always()) == "<BusinessCalendar 24x7 UTC>"


# --- laws ---------------------------------------------------------------------------------------------------------

INPUT_ZONES = st.sampled_from([UTC, TOKYO, NEW_YORK, BERLIN])
instants = st.builds(
    lambda moment, zone: moment.replace(tzinfo=UTC).astimezone(zone),
    st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2028, 12, 31, 23, 59)),
    INPUT_ZONES,
)
durations = st.one_of(
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=60)),
    st.integers(min_value=0, max_value=60 * 24 * 60).map(lambda minutes: timedelta(minutes=minutes)),
)
LAWS = settings(max_examples=200, deadline=None)
calendars = pytest.mark.parametrize("cal", CALENDARS.values(), ids=CALENDARS.keys())


@calendars
@LAWS
@given(start=instants, duration=durations)
def test_law_add_then_elapsed_gives_the_duration_back(cal, start, duration):
    # when
    due = cal.add(start, duration)

    # then
    assert cal.elapsed(start, due) == duration
    assert due.tzinfo == cal.timezone


@calendars
@LAWS
@given(start=instants, duration=durations)
def test_law_add_returns_the_earliest_such_instant(cal, start, duration):
    # when
    due = cal.add(start, duration)

    # then
    if duration:
        assert cal.elapsed(start, utc(due) - US) < duration
    else:
        assert utc(due) == utc(start)


@calendars
@LAWS
@given(a=instants, gaps=st.lists(durations, min_size=2, max_size=2), spread=st.booleans())
def test_law_elapsed_is_additive(cal, a, gaps, spread):
    # given: b and c either close to a or anywhere up to years later
    factor = 20 if spread else 1
    b = utc(a) + gaps[0] * factor
    c = b + gaps[1] * factor

    # when
    whole, first, second = cal.elapsed(a, c), cal.elapsed(a, b), cal.elapsed(b, c)

    # then
    assert whole == first + second


@calendars
@LAWS
@given(start=instants, duration=durations)
def test_law_add_lands_in_working_time_or_at_an_interval_end(cal, start, duration):
    # when
    due = cal.add(start, duration)

    # then
    if duration:
        assert cal.is_working(utc(due) - US)


@calendars
@LAWS
@given(instant=instants)
def test_law_next_working_is_working_and_reached_without_working(cal, instant):
    # when
    opens = cal.next_working(instant)

    # then
    assert utc(opens) >= utc(instant)
    assert cal.is_working(opens)
    assert cal.elapsed(instant, opens) == timedelta(0)
    assert cal.is_working(instant) == (utc(opens) == utc(instant))


@calendars
@LAWS
@given(a=instants, gaps=st.lists(durations, min_size=2, max_size=2))
def test_law_elapsed_is_monotonic_and_at_most_wall_time(cal, a, gaps):
    # given
    b = utc(a) + gaps[0]
    c = b + gaps[1]

    # when
    to_b, to_c = cal.elapsed(a, b), cal.elapsed(a, c)

    # then
    assert timedelta(0) <= to_b <= to_c <= c - utc(a)
    assert cal.elapsed(c, a) == timedelta(0)


@calendars
@LAWS
@given(a=instants, gap=durations)
def test_law_working_intervals_add_up_to_elapsed(cal, a, gap):
    # given
    b = utc(a) + gap

    # when
    intervals = cal.working_intervals(a, b)

    # then: ordered, disjoint, not touching, inside [a, b), in working time, summing to elapsed
    assert sum((utc(e) - utc(s) for s, e in intervals), timedelta(0)) == cal.elapsed(a, b)
    for (_, end), (start, _) in itertools.pairwise(intervals):
        assert utc(end) < utc(start)
    for start, end in intervals:
        assert utc(a) <= utc(start) < utc(end) <= b
        assert cal.is_working(start)
        assert cal.is_working(utc(end) - US)


# --- against an independent oracle ----------------------------------------------------------------------------------

STEP = timedelta(minutes=5)  # every boundary in these calendars and zones sits on a 5-minute grid
DST_DAYS = [datetime(2026, 3, 8, 7, tzinfo=UTC), datetime(2026, 11, 1, 6, tzinfo=UTC)]  # New York
DST_DAYS += [datetime(2026, 3, 29, 1, tzinfo=UTC), datetime(2026, 10, 25, 1, tzinfo=UTC)]  # Berlin
DST_DAYS += [datetime(2026, 12, 28, tzinfo=UTC), datetime(2026, 11, 23, tzinfo=UTC)]  # closures


@functools.cache
def oracle_country_holidays(code: str, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(code, years=year))


def oracle_working(cal: BusinessCalendar, instant: datetime) -> bool:
    """Working-ness from the spec alone: local wall time, weekday, holidays looked up directly."""
    spec = cal.to_dict()
    if spec.get("type") == "24x7":
        return True
    local = instant.astimezone(ZoneInfo(spec["timezone"]))
    day = local.date()
    if day.isoformat() in spec["extra_holidays"]:
        return False
    if any(day in oracle_country_holidays(code, day.year) for code in spec["holidays"]):
        return False
    minute = local.hour * 60 + local.minute
    for start, end in spec["weekly_hours"].get(str(day.weekday()), []):
        if int(start[:2]) * 60 + int(start[3:]) <= minute < int(end[:2]) * 60 + int(end[3:]):
            return True
    return False


@calendars
@settings(max_examples=40, deadline=None)
@given(
    anchor=st.one_of(st.sampled_from(DST_DAYS), instants.map(utc)),
    shift=st.integers(min_value=-36 * 12, max_value=0),
    steps=st.integers(min_value=0, max_value=48 * 12),
)
def test_elapsed_matches_a_minute_grid_oracle(cal, anchor, shift, steps):
    # given: a window on the 5-minute grid around the anchor
    start = anchor.replace(minute=anchor.minute - anchor.minute % 5, second=0, microsecond=0) + shift * STEP
    grid = [start + i * STEP for i in range(steps)]

    # when
    worked = cal.elapsed(start, start + steps * STEP)
    flags = [cal.is_working(t) for t in grid]

    # then
    expected = [oracle_working(cal, t) for t in grid]
    assert flags == expected
    assert worked == sum(expected) * STEP


def test_europe_london_dst_days_and_a_business_day_across_the_change():
    from datetime import date, datetime, timedelta
    from zoneinfo import ZoneInfo

    from mdr.sla.calendar import BusinessCalendar

    london = ZoneInfo("Europe/London")
    always = BusinessCalendar.always(timezone="Europe/London")
    # 2026-03-29 (spring forward, 01:00 -> 02:00) lasts 23 h; 2026-10-25 (fall back) 25 h
    assert always.elapsed(datetime(2026, 3, 29, tzinfo=london), datetime(2026, 3, 30, tzinfo=london)) == timedelta(
        hours=23
    )
    assert always.elapsed(datetime(2026, 10, 25, tzinfo=london), datetime(2026, 10, 26, tzinfo=london)) == timedelta(
        hours=25
    )
    # 9-17 weekdays: Friday 16:00 + 2 h lands Monday 10:00 across the spring change (wall clock kept)
    office = BusinessCalendar(timezone="Europe/London", weekly_hours={d: [("09:00", "17:00")] for d in range(5)})
    assert office.add(datetime(2026, 3, 27, 16, 0, tzinfo=london), timedelta(hours=2)) == datetime(
        2026, 3, 30, 10, 0, tzinfo=london
    )
    assert date(2026, 3, 30).weekday() == 0


def test_leap_day_is_an_ordinary_working_day_unless_closed():
    from datetime import date, datetime, timedelta
    from zoneinfo import ZoneInfo

    from mdr.sla.calendar import BusinessCalendar

    tokyo = ZoneInfo("Asia/Tokyo")
    weekdays = {d: [("09:00", "18:00")] for d in range(5)}
    cal = BusinessCalendar(timezone="Asia/Tokyo", weekly_hours=weekdays)
    # 2028-02-29 is a Tuesday: Monday 17:00 + 2 h = Tuesday (the leap day) 10:00
    assert cal.add(datetime(2028, 2, 28, 17, 0, tzinfo=tokyo), timedelta(hours=2)) == datetime(
        2028, 2, 29, 10, 0, tzinfo=tokyo
    )
    closed = BusinessCalendar(timezone="Asia/Tokyo", weekly_hours=weekdays, extra_holidays=[date(2028, 2, 29)])
    assert closed.add(datetime(2028, 2, 28, 17, 0, tzinfo=tokyo), timedelta(hours=2)) == datetime(
        2028, 3, 1, 10, 0, tzinfo=tokyo
    )
