"""Business time: the one place that knows when a provider or customer is "open".

Scope coverage hours, SLA timers, escalation windows and reports all measure time through
``BusinessCalendar``. A calendar is a time zone, weekly LOCAL wall-clock working intervals, national holiday
sets (``holidays`` country codes) and extra closed days (year-end 12/29-1/4, provider or customer closures).
Pure Python, no database access; a calendar is a value (equality and hash by spec, ``to_dict``/``from_dict``).

Semantics (the model every method shares): an instant is *working* when its local wall time in the calendar's
zone falls inside a working interval of its local date and that date is not a holiday. Elapsed business time is
the real (absolute) duration of working instants, so DST is handled by construction: a 24x7 local day lasts
23 h on spring-forward and 25 h on fall-back, a local interval across the spring gap loses the non-existent
hour, and one across the fall-back overlap counts both real hours. All arithmetic is in integer microseconds.

``add(start, d)`` returns the EARLIEST instant ``t`` with ``elapsed(start, t) == d``. Hence ``add(start, 0)``
is ``start`` itself, even in closed time (use ``next_working`` to find when a clock starts ticking); for
``d > 0`` the result is inside working time or exactly at the end of the working interval where ``d`` runs
out, never at the next opening.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_lib
import icalendar

__all__ = ["BusinessCalendar"]

_US = timedelta(microseconds=1)
_SECOND = 1_000_000
_MINUTE = 60 * _SECOND
_DAY = 24 * 60 * _MINUTE
_WEEK = 7 * _DAY
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday; Monday == 0 as in date.weekday()
_FAR = 2**62  # "no end" for walks bounded by a duration; _segment raises long before
_MIN_YEAR, _MAX_YEAR = 2, 9998  # keep every conversion inside datetime's range
_TIME_RE = re.compile(r"([01]\d|2[0-3]):([0-5]\d)|24:00")
_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_ZONE_SAMPLE = 6 * 3600  # seconds between offset samples when locating a zone's transitions in a year


# --- time zone and holiday tables (module-level caches shared by every calendar) -------------------------------


def _zone(key: str) -> ZoneInfo:
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValueError(f"unknown time zone {key!r}") from exc


@lru_cache(maxsize=4096)
def _transitions(key: str, year: int) -> tuple[int, ...]:
    """UTC instants (µs) in ``year`` where the zone's UTC offset changes, found by sampling and bisection.

    zoneinfo has no public transition list; sampling every 6 h misses only offset changes that revert within
    6 h, which no real zone has.
    """
    tz = ZoneInfo(key)
    lo = (datetime(year, 1, 1, tzinfo=UTC) - _EPOCH) // timedelta(seconds=1)
    hi = (datetime(year + 1, 1, 1, tzinfo=UTC) - _EPOCH) // timedelta(seconds=1)
    found: list[int] = []
    prev_t, prev_off = lo, datetime.fromtimestamp(lo, tz).utcoffset()
    t = lo
    while t < hi:
        t = min(t + _ZONE_SAMPLE, hi)
        off = datetime.fromtimestamp(t, tz).utcoffset()
        if off != prev_off:
            a, b = prev_t, t  # offset(a) == prev_off != offset(b); transitions sit on whole seconds
            while b - a > 1:
                mid = (a + b) // 2
                if datetime.fromtimestamp(mid, tz).utcoffset() == prev_off:
                    a = mid
                else:
                    b = mid
            found.append(b * _SECOND)
        prev_t, prev_off = t, off
    return tuple(found)


@lru_cache(maxsize=1)
def _supported_countries() -> frozenset[str]:
    return frozenset(holidays_lib.list_supported_countries())


@lru_cache(maxsize=4096)
def _country_days(code: str, year: int) -> frozenset[int]:
    """Public holidays of ``code`` in ``year`` as days since 1970-01-01."""
    return frozenset(d.toordinal() - _EPOCH_ORDINAL for d in holidays_lib.country_holidays(code, years=year))


def _year_of_day(day: int) -> int:
    return date.fromordinal(day + _EPOCH_ORDINAL).year


def _first_day_of_year(year: int) -> int:
    return date(year, 1, 1).toordinal() - _EPOCH_ORDINAL


# --- spec parsing ---------------------------------------------------------------------------------------------


def _parse_time(value: object, where: str) -> int:
    if not isinstance(value, str) or not _TIME_RE.fullmatch(value):
        raise ValueError(f"{where}: {value!r} is not a time of day in HH:MM form (00:00 to 24:00)")
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def _format_time(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _parse_weekly_hours(weekly_hours: Mapping[Any, Any]) -> tuple[tuple[tuple[int, int], ...], ...]:
    """Per weekday (Monday first) a sorted tuple of (start, end) minutes; touching intervals merged."""
    if not isinstance(weekly_hours, Mapping):
        raise ValueError("weekly_hours must be a mapping of weekday (0 = Monday .. 6 = Sunday) to intervals")
    days: list[list[tuple[int, int]]] = [[] for _ in range(7)]
    seen: set[int] = set()
    for key, intervals in weekly_hours.items():
        if isinstance(key, bool) or not isinstance(key, int | str) or str(key) not in {str(i) for i in range(7)}:
            raise ValueError(f"weekly_hours: day {key!r} is outside 0 (Monday) to 6 (Sunday)")
        day = int(key)
        if day in seen:
            raise ValueError(f"weekly_hours: day {day} is given twice")
        seen.add(day)
        where = f"weekly_hours[{day}]"
        if isinstance(intervals, str) or not isinstance(intervals, Iterable):
            raise ValueError(f"{where} must be a list of (start, end) pairs such as ('09:00', '18:00')")
        parsed: list[tuple[int, int]] = []
        for interval in intervals:
            if isinstance(interval, str) or not isinstance(interval, Sequence) or len(interval) != 2:
                raise ValueError(f"{where}: {interval!r} is not a (start, end) pair such as ('09:00', '18:00')")
            start, end = _parse_time(interval[0], where), _parse_time(interval[1], where)
            if start >= end:
                raise ValueError(f"{where}: interval {interval[0]}-{interval[1]} must start before it ends")
            parsed.append((start, end))
        parsed.sort()
        for (s1, e1), (s2, e2) in pairwise(parsed):
            if s2 < e1:
                raise ValueError(
                    f"{where}: intervals {_format_time(s1)}-{_format_time(e1)} and "
                    f"{_format_time(s2)}-{_format_time(e2)} overlap"
                )
        for start, end in parsed:
            if days[day] and days[day][-1][1] == start:
                days[day][-1] = (days[day][-1][0], end)
            else:
                days[day].append((start, end))
    return tuple(tuple(d) for d in days)


def _parse_countries(codes: Iterable[str]) -> tuple[str, ...]:
    if isinstance(codes, str):
        codes = [codes]
    result = set()
    for code in codes:
        if not isinstance(code, str) or code.upper() not in _supported_countries():
            raise ValueError(f"unknown holiday country code {code!r} (use codes of the `holidays` package, e.g. 'JP')")
        result.add(code.upper())
    return tuple(sorted(result))


def _parse_dates(values: Iterable[date | str]) -> tuple[date, ...]:
    result = set()
    for value in values:
        if isinstance(value, datetime):
            raise ValueError(f"extra_holidays: {value!r} is a datetime; closed days are dates")
        if isinstance(value, date):
            result.add(value)
        elif isinstance(value, str):
            try:
                result.add(date.fromisoformat(value))
            except ValueError as exc:
                raise ValueError(f"extra_holidays: {value!r} is not an ISO date (YYYY-MM-DD)") from exc
        else:
            raise ValueError(f"extra_holidays: {value!r} is not a date")
    return tuple(sorted(result))


def _to_us(instant: datetime, name: str = "instant") -> int:
    """Microseconds since the epoch of an aware datetime; naive ones are refused (their instant is unknown)."""
    if not isinstance(instant, datetime):
        raise TypeError(f"{name} must be a datetime, not {type(instant).__name__}")
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{name} {instant!r} is naive; business time needs timezone-aware datetimes")
    return (instant - _EPOCH) // _US


def _duration_us(duration: timedelta) -> int:
    if not isinstance(duration, timedelta):
        raise TypeError(f"duration must be a timedelta, not {type(duration).__name__}")
    if duration < timedelta(0):
        raise ValueError(f"duration {duration} is negative")
    return duration // _US


class BusinessCalendar:
    """Weekly local working hours minus holidays in one time zone; see the module docstring for semantics."""

    def __init__(
        self,
        timezone: str,
        weekly_hours: Mapping[Any, Any],
        holidays: Iterable[str] = (),
        extra_holidays: Iterable[date | str] = (),
    ) -> None:
        self._tz_key = str(timezone)
        self._tz = _zone(self._tz_key)
        self._hours_min = _parse_weekly_hours(weekly_hours)
        self._countries = _parse_countries(holidays)
        self._extras = _parse_dates(extra_holidays)
        self._always = False
        self._setup()

    @classmethod
    def always(cls, timezone: str = "UTC") -> BusinessCalendar:
        """24x7: every instant is working; add/elapsed are plain arithmetic on absolute time."""
        cal = cls.__new__(cls)
        cal._tz_key = str(timezone)
        cal._tz = _zone(cal._tz_key)
        cal._hours_min = tuple(((0, 24 * 60),) for _ in range(7))
        cal._countries = ()
        cal._extras = ()
        cal._always = True
        cal._setup()
        return cal

    def _setup(self) -> None:
        self._hours = tuple(tuple((a * _MINUTE, b * _MINUTE) for a, b in day) for day in self._hours_min)
        self._day_total = tuple(sum(b - a for a, b in day) for day in self._hours)
        self._week_total = sum(self._day_total)
        self._extras_by_year: dict[int, frozenset[int]] = {}
        for d in self._extras:
            self._extras_by_year[d.year] = self._extras_by_year.get(d.year, frozenset()) | {
                d.toordinal() - _EPOCH_ORDINAL
            }
        # Holiday days are loaded per local year on demand. ``_window`` is the range of days (a contiguous run of
        # loaded years) for which ``_holiday_days`` is complete; both are replaced, never mutated, and
        # ``_holiday_days`` is assigned first, so a calendar shared between threads needs no lock.
        self._holiday_days: frozenset[int] = frozenset()
        self._window: tuple[int, int, int, int] = (0, 0, 0, -1)  # first day, end day, first year, last year
        self._year_sorted: dict[int, tuple[int, ...]] = {}

    # --- spec -----------------------------------------------------------------------------------------------

    @property
    def timezone(self) -> ZoneInfo:
        return self._tz

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable spec; ``from_dict(cal.to_dict()) == cal``."""
        if self._always:
            return {"type": "24x7", "timezone": self._tz_key}
        return {
            "timezone": self._tz_key,
            "weekly_hours": {
                str(day): [[_format_time(a), _format_time(b)] for a, b in intervals]
                for day, intervals in enumerate(self._hours_min)
                if intervals
            },
            "holidays": list(self._countries),
            "extra_holidays": [d.isoformat() for d in self._extras],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BusinessCalendar:
        if not isinstance(data, Mapping):
            raise ValueError("calendar spec must be a mapping")
        kind = data.get("type", "weekly")
        if kind == "24x7":
            unknown = set(data) - {"type", "timezone"}
            if unknown:
                raise ValueError(f"calendar spec: unknown keys {sorted(unknown)}")
            return cls.always(timezone=data.get("timezone", "UTC"))
        if kind != "weekly":
            raise ValueError(f"calendar spec: unknown type {kind!r} (expected '24x7' or 'weekly')")
        unknown = set(data) - {"type", "timezone", "weekly_hours", "holidays", "extra_holidays"}
        if unknown:
            raise ValueError(f"calendar spec: unknown keys {sorted(unknown)}")
        for key in ("timezone", "weekly_hours"):
            if key not in data:
                raise ValueError(f"calendar spec: missing {key!r}")
        return cls(
            timezone=data["timezone"],
            weekly_hours=data["weekly_hours"],
            holidays=data.get("holidays", ()),
            extra_holidays=data.get("extra_holidays", ()),
        )

    def _key(self) -> tuple[Any, ...]:
        return (self._always, self._tz_key, self._hours_min, self._countries, self._extras)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BusinessCalendar):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __reduce__(self) -> tuple[Any, ...]:
        return (BusinessCalendar.from_dict, (self.to_dict(),))

    def __repr__(self) -> str:
        if self._always:
            return f"<BusinessCalendar 24x7 {self._tz_key}>"
        open_days = [_DAY_NAMES[i] for i, day in enumerate(self._hours_min) if day]
        hours = f"{self._week_total / (3600 * _SECOND):g}h/week"
        parts = [self._tz_key, ",".join(open_days) or "closed", hours]
        if self._countries:
            parts.append("holidays=" + ",".join(self._countries))
        if self._extras:
            parts.append(f"+{len(self._extras)} closed days")
        return f"<BusinessCalendar {' '.join(parts)}>"

    # --- public operations ------------------------------------------------------------------------------------

    def is_working(self, instant: datetime) -> bool:
        u = _to_us(instant)
        if self._always:
            return True
        local = u + self._offset(u)
        day, tod = divmod(local, _DAY)
        if self._is_holiday(day):
            return False
        return any(a <= tod < b for a, b in self._hours[(day + _EPOCH_WEEKDAY) % 7])

    def next_working(self, instant: datetime) -> datetime:
        """``instant`` itself if working, else the start of the next working interval."""
        u = _to_us(instant)
        if self._always or self.is_working(instant):
            return self._out(u)
        self._require_hours()
        for start, _end in self._intervals(u, _FAR):
            return self._out(start)
        raise AssertionError("unreachable: _intervals(.., _FAR) only ends by raising")  # pragma: no cover

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Working time between two instants; zero when ``end <= start``."""
        u0, u1 = _to_us(start, "start"), _to_us(end, "end")
        if u1 <= u0:
            return timedelta(0)
        if self._always:
            return timedelta(microseconds=u1 - u0)
        return timedelta(microseconds=self._walk(u0, None, u1)[1])

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The earliest instant ``t`` with ``elapsed(start, t) == duration`` (``start`` itself for zero)."""
        u0, need = _to_us(start, "start"), _duration_us(duration)
        if self._always or need == 0:
            return self._out(u0 + need)
        self._require_hours()
        return self._out(self._walk(u0, need, _FAR)[0])

    def working_intervals(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """Maximal working intervals clipped to ``[start, end)``, as calendar-zone datetimes."""
        u0, u1 = _to_us(start, "start"), _to_us(end, "end")
        if u1 <= u0:
            return []
        if self._always:
            return [(self._out(u0), self._out(u1))]
        return [(self._out(a), self._out(b)) for a, b in self._intervals(u0, u1)]

    @staticmethod
    def holidays_from_ics(data: bytes) -> list[date]:
        """Closed days from an ICS file: every all-day VEVENT, multi-day ones expanded (DTEND exclusive).

        Timed events are not whole-day closures and are skipped, as are cancelled events. Recurring events
        are refused rather than silently half-read: export the holidays as individual events.
        """
        try:
            calendar = icalendar.Calendar.from_ical(data)
        except ValueError as exc:
            raise ValueError(f"not a readable ICS calendar: {exc}") from exc
        days: set[date] = set()
        for event in calendar.walk("VEVENT"):
            if "DTSTART" not in event:
                continue
            first = event.decoded("DTSTART")
            if isinstance(first, datetime) or not isinstance(first, date):
                continue
            if str(event.get("STATUS", "")).upper() == "CANCELLED":
                continue
            if "RRULE" in event:
                summary = event.get("SUMMARY", "")
                raise ValueError(f"recurring event {str(summary)!r} on {first}: RRULE is not supported")
            if "DTEND" in event:
                last = event.decoded("DTEND")
                if isinstance(last, datetime):
                    last = last.date()
            elif "DURATION" in event:
                last = first + event.decoded("DURATION")
            else:
                last = first + timedelta(days=1)
            last = max(last, first + timedelta(days=1))
            days.update(first + timedelta(days=i) for i in range((last - first).days))
        return sorted(days)

    # --- internals ------------------------------------------------------------------------------------------

    def _out(self, u: int) -> datetime:
        return (_EPOCH + timedelta(microseconds=u)).astimezone(self._tz)

    def _require_hours(self) -> None:
        if not self._week_total:
            raise ValueError(f"{self!r} has no working hours; business time never advances")

    def _offset(self, u: int) -> int:
        return datetime.fromtimestamp(u // _SECOND, self._tz).utcoffset() // _US

    def _segment(self, u: int) -> tuple[int, int]:
        """UTC offset at ``u`` and the end of the stretch (next transition or UTC year end) where it holds."""
        year = (_EPOCH + timedelta(microseconds=u)).year
        if not _MIN_YEAR <= year <= _MAX_YEAR:
            raise OverflowError(f"{self!r}: business time computation left the supported years")
        transitions = _transitions(self._tz_key, year)
        i = bisect_right(transitions, u)
        if i < len(transitions):
            return self._offset(u), transitions[i]
        return self._offset(u), (datetime(year + 1, 1, 1, tzinfo=UTC) - _EPOCH) // _US

    def _load_year(self, year: int) -> None:
        days = frozenset().union(*(_country_days(code, year) for code in self._countries))
        days |= self._extras_by_year.get(year, frozenset())
        self._year_sorted[year] = tuple(sorted(days))
        self._holiday_days = self._holiday_days | days
        _first, _end, y0, y1 = self._window
        if y0 <= y1 and y0 - 1 <= year <= y1 + 1:
            y0, y1 = min(y0, year), max(y1, year)
        else:
            y0 = y1 = year
        self._window = (_first_day_of_year(y0), _first_day_of_year(y1 + 1), y0, y1)

    def _is_holiday(self, day: int) -> bool:
        first, end, _y0, _y1 = self._window
        if not first <= day < end:
            self._load_year(_year_of_day(day))
        return day in self._holiday_days

    def _next_holiday(self, day: int) -> int:
        """First holiday on or after ``day``, or a later day before which there is certainly none."""
        year = _year_of_day(day)
        for y in (year, year + 1):
            if y not in self._year_sorted:
                self._load_year(y)
            days = self._year_sorted[y]
            i = bisect_left(days, day)
            if i < len(days):
                return days[i]
        return _first_day_of_year(year + 2)

    def _walk(self, u: int, budget: int | None, stop: int) -> tuple[int, int]:
        """Consume working time from ``u`` until ``budget`` µs are used up or ``stop`` is reached.

        Returns (instant, consumed): for a budget, the earliest instant at which it is used up; otherwise
        (``stop``, working time in ``[u, stop)``). Within a stretch of constant UTC offset, local time is
        ``utc + offset``, so it steps over local days, whole days by their precomputed totals and whole weeks
        without holidays by the weekly total; only days that are cut or where the budget runs out look at
        single intervals.
        """
        consumed = 0
        hours, day_total, week_total = self._hours, self._day_total, self._week_total
        while True:
            off, seg_end = self._segment(u)
            hi = min(seg_end, stop)
            lo_local, hi_local = u + off, hi + off
            day = lo_local // _DAY
            base = day * _DAY
            while base < hi_local:
                weekday = (day + _EPOCH_WEEKDAY) % 7
                whole_day = lo_local <= base and base + _DAY <= hi_local
                if whole_day and weekday == 0 and week_total:
                    weeks = (hi_local - base) // _WEEK
                    if weeks:
                        weeks = min(weeks, (self._next_holiday(day) - day) // 7)
                    if weeks and budget is not None:
                        weeks = min(weeks, (budget - consumed - 1) // week_total)
                    if weeks > 0:
                        consumed += weeks * week_total
                        day += 7 * weeks
                        base = day * _DAY
                        continue
                if day_total[weekday] and not self._is_holiday(day):
                    if whole_day and (budget is None or consumed + day_total[weekday] < budget):
                        consumed += day_total[weekday]
                    else:
                        for a, b in hours[weekday]:
                            s = max(base + a, lo_local)
                            e = min(base + b, hi_local)
                            if s < e:
                                if budget is not None and consumed + (e - s) >= budget:
                                    return s + (budget - consumed) - off, budget
                                consumed += e - s
                day += 1
                base += _DAY
            if hi >= stop:
                return stop, consumed
            u = seg_end

    def _intervals(self, u: int, stop: int) -> Iterator[tuple[int, int]]:
        """Maximal working intervals (UTC µs) intersecting ``[u, stop)``, clipped, in order."""
        pending: tuple[int, int] | None = None
        for s, e in self._raw_intervals(u, stop):
            if pending is None:
                pending = (s, e)
            elif pending[1] == s:
                pending = (pending[0], e)
            else:
                yield pending
                pending = (s, e)
        if pending is not None:
            yield pending

    def _raw_intervals(self, u: int, stop: int) -> Iterator[tuple[int, int]]:
        hours = self._hours
        while u < stop:
            off, seg_end = self._segment(u)
            hi = min(seg_end, stop)
            lo_local, hi_local = u + off, hi + off
            day = lo_local // _DAY
            base = day * _DAY
            while base < hi_local:
                weekday = (day + _EPOCH_WEEKDAY) % 7
                if hours[weekday] and not self._is_holiday(day):
                    for a, b in hours[weekday]:
                        s = max(base + a, lo_local)
                        e = min(base + b, hi_local)
                        if s < e:
                            yield s - off, e - off
                day += 1
                base += _DAY
            u = hi
