"""BusinessCalendar.holidays_from_ics: closed days from an ICS export (all-day events, DTEND exclusive)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest

from mdr.sla.calendar import BusinessCalendar

TOKYO = ZoneInfo("Asia/Tokyo")


def ics(*events: dict[str, object]) -> bytes:
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//mdr tests//EN")
    calendar.add("version", "2.0")
    for number, fields in enumerate(events):
        event = icalendar.Event()
        event.add("uid", f"{number}@tests.mdr")
        for name, value in fields.items():
            event.add(name, value)
        calendar.add_component(event)
    return calendar.to_ical()


def test_all_day_events_single_and_multi_day():
    # given: 年末年始 as one event ending (exclusively) on 5 January, plus a single-day company holiday
    data = ics(
        {"summary": "年末年始休業", "dtstart": date(2026, 12, 29), "dtend": date(2027, 1, 5)},
        {"summary": "創立記念日", "dtstart": date(2026, 10, 1)},
    )

    # when
    days = BusinessCalendar.holidays_from_ics(data)

    # then
    assert days == [date(2026, 10, 1)] + [date(2026, 12, 29) + timedelta(days=i) for i in range(7)]


def test_duration_timed_and_cancelled_events():
    # given
    data = ics(
        {"summary": "棚卸", "dtstart": date(2026, 3, 30), "duration": timedelta(days=2)},
        {"summary": "meeting", "dtstart": datetime(2026, 4, 1, 10, 0, tzinfo=UTC)},
        {"summary": "cancelled closure", "dtstart": date(2026, 4, 2), "status": "CANCELLED"},
    )

    # when
    days = BusinessCalendar.holidays_from_ics(data)

    # then: only whole-day closures count
    assert days == [date(2026, 3, 30), date(2026, 3, 31)]


def test_recurring_events_are_refused():
    # given
    data = ics({"summary": "元日", "dtstart": date(2026, 1, 1), "rrule": {"freq": "yearly"}})

    # when / then
    with pytest.raises(ValueError, match="RRULE is not supported"):
        BusinessCalendar.holidays_from_ics(data)


def test_unreadable_data_is_refused():
    # when / then
    with pytest.raises(ValueError, match="not a readable ICS calendar"):
        BusinessCalendar.holidays_from_ics(b"this is not a calendar")


def test_imported_days_close_a_calendar():
    # given
    closed = BusinessCalendar.holidays_from_ics(
        ics({"summary": "年末年始休業", "dtstart": date(2026, 12, 29), "dtend": date(2027, 1, 5)})
    )
    cal = BusinessCalendar(
        timezone="Asia/Tokyo",
        weekly_hours={day: [("09:00", "18:00")] for day in range(5)},
        extra_holidays=closed,
    )

    # when
    due = cal.add(datetime(2026, 12, 28, 17, 0, tzinfo=TOKYO), timedelta(hours=2))

    # then
    assert due == datetime(2027, 1, 5, 10, 0, tzinfo=TOKYO)
