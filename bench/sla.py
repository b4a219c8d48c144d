"""Benchmark: the SLA due-work sweep at scale, its independence from the customer count, and business-time arithmetic.

Run from the repository root (PostgreSQL and Redis running)::

    DJANGO_DEBUG=1 .venv/bin/python bench/sla.py [--customers 1000] [--timers 1000000] [--rounds 3]

Uses its own database ``mdr_bench_sla`` (created if missing, migrated with ``manage.py migrate_all``), Redis
db 13 and the dramatiq namespace ``mdr-bench-sla`` (both flushed at start and end), so nothing real is touched.

1. The sweep (``mdr.jobs.services.due_work_sweep``) at scale: ``public.jobs_duework`` holds ``--timers`` rows
   of kind ``sla_timer_due`` spread over ``--customers`` schema names (``bench_c0000``...; the claim-and-send
   part needs no real schema), loaded with COPY, all due in the future except exactly D rows due now, for
   D = 0, 100 and 10,000. Per round: make D random rows due, VACUUM, time the floor (the raw indexed
   ``SELECT ... WHERE due_at <= now() ORDER BY due_at LIMIT n FOR UPDATE SKIP LOCKED`` through psycopg, in a
   transaction rolled back), then time one ``due_work_sweep(limit=max(D, 1))`` (claim, one dramatiq message
   per row to Redis, delete), check it fired D rows, and put the swept rows back in the future. Median of
   ``--rounds`` rounds. Goal: tick <= 3x floor.
2. Customer-count independence: the same 10,000 due rows over 10 names vs over ``--customers`` names.
   Goal: within 1.5x.
3. ``BusinessCalendar.add`` throughput, one core: Tokyo business hours (09:00-18:00 Mon-Fri, JP holidays,
   year-end 12/29-1/4), 100,000 calls with seeded random starts over 2026-2027 and durations of 15 min to
   3 days; and the 24x7 calendar. Best of 3. Goal: >= 100,000 calls/s. cProfile of the business calendar if
   the goal is missed.
4. (``--skip-actor`` to leave out) the per-timer work of the actor: ``timer_due`` on 1,000 real timers in
   one onboarded customer schema (slug ``slabench``), each firing 3 warnings and the breach, then again on
   the same timers (nothing left to do: a redelivered message).

Prints the figures, then as the last line one JSON object. Cleans up: truncates ``jobs_duework`` and
``jobs_timerindex`` in the bench database and the bench customer's SLA tables, flushes Redis db 13.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import logging
import os
import pstats
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "mdr_bench_sla"
REDIS_DB = 13
os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
os.environ["REDIS_URL"] = f"redis://127.0.0.1:6379/{REDIS_DB}"
os.environ["MDR_DRAMATIQ_NAMESPACE"] = "mdr-bench-sla"
os.environ.setdefault("DJANGO_DEBUG", "1")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mdr.settings")
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from benchdb import database_prepare, manage  # noqa: E402

KIND = "sla_timer_due"
DS = (0, 100, 10_000)
GOAL_RATIO = 3.0
GOAL_CUSTOMERS = 1.5
GOAL_ADD_PER_S = 100_000
CAL_CALLS = 100_000
ACTOR_TIMERS = 1_000
BENCH_SLUG = "slabench"


database_prepare(DB_NAME)

import django  # noqa: E402

django.setup()

import redis  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_tenants.utils import schema_context  # noqa: E402

from mdr.jobs.services import due_work_sweep  # noqa: E402
from mdr.sla.calendar import BusinessCalendar  # noqa: E402

DSN = os.environ["DATABASE_URL"].replace("postgres://", "postgresql://", 1)


def redis_flush() -> None:
    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()


# --- 1 and 2: the sweep ------------------------------------------------------------------------------------


def vacuum(conn: psycopg.Connection) -> None:
    conn.commit()
    conn.autocommit = True
    try:
        conn.execute("VACUUM ANALYZE jobs_duework")
    finally:
        conn.autocommit = False


def populate(conn: psycopg.Connection, customers: int, timers: int) -> None:
    """``timers`` future rows; row i (id i + 1) belongs to schema bench_c{i % customers}."""
    rng = random.Random(1)
    base = datetime.now(UTC) + timedelta(hours=1)
    conn.execute("TRUNCATE jobs_duework RESTART IDENTITY")
    started = time.perf_counter()
    now = datetime.now(UTC).isoformat()
    copy_sql = "COPY jobs_duework (id, schema_name, kind, ref, due_at, created_at) FROM STDIN"
    with conn.cursor() as cur, cur.copy(copy_sql) as copy:
        chunk = []
        for i in range(timers):
            due = (base + timedelta(seconds=rng.randrange(30 * 86400))).isoformat()
            chunk.append(f"{i + 1}\tbench_c{i % customers:04d}\t{KIND}\t{i + 1}\t{due}\t{now}\n")
            if len(chunk) == 50_000:
                copy.write("".join(chunk))
                chunk = []
        copy.write("".join(chunk))
    conn.execute("SELECT setval(pg_get_serial_sequence('jobs_duework', 'id'), %s)", [timers])
    conn.commit()
    vacuum(conn)
    print(f"populated {timers:,} rows over {customers:,} schema names in {time.perf_counter() - started:.1f}s")


def make_due(conn: psycopg.Connection, ids: list[int]) -> None:
    if ids:
        conn.execute("UPDATE jobs_duework SET due_at = now() - random() * interval '1 hour' WHERE id = ANY(%s)", [ids])
    conn.commit()
    vacuum(conn)


def restore(conn: psycopg.Connection, ids: list[int], customers: int) -> None:
    """Put the swept rows back, due in the future again."""
    if ids:
        conn.execute(
            "INSERT INTO jobs_duework (id, schema_name, kind, ref, due_at, created_at) "
            "SELECT i, 'bench_c' || lpad((i - 1) %% %s || '', 4, '0'), %s, i::text, "
            "now() + interval '1 hour' + random() * interval '30 days', now() FROM unnest(%s::bigint[]) AS i",
            [customers, KIND, ids],
        )
    conn.commit()


def floor_ms(conn: psycopg.Connection, n: int) -> tuple[float, int]:
    started = time.perf_counter()
    with conn.transaction(force_rollback=True):
        rows = conn.execute(
            "SELECT id, schema_name, kind, ref FROM jobs_duework WHERE due_at <= now() "
            "ORDER BY due_at LIMIT %s FOR UPDATE SKIP LOCKED",
            [n],
        ).fetchall()
    return (time.perf_counter() - started) * 1000, len(rows)


def tick_ms(n: int) -> tuple[float, int]:
    started = time.perf_counter()
    fired = due_work_sweep(limit=max(n, 1))
    return (time.perf_counter() - started) * 1000, fired


def sweep_round(conn, ids: list[int], customers: int) -> tuple[float, float]:
    d = len(ids)
    make_due(conn, ids)
    f_ms, f_rows = floor_ms(conn, max(d, 1))
    t_ms, fired = tick_ms(d)
    if f_rows != d or fired != d:
        raise SystemExit(f"D={d}: floor saw {f_rows} rows, the sweep fired {fired}")
    left = conn.execute("SELECT count(*) FROM jobs_duework WHERE due_at <= now()").fetchone()[0]
    if left:
        raise SystemExit(f"D={d}: {left} due rows left after the sweep")
    restore(conn, ids, customers)
    redis_flush()
    return t_ms, f_ms


def pick(rng: random.Random, timers: int, customers: int, names: int, d: int) -> list[int]:
    """d random row ids among the rows of the first ``names`` schema names."""
    candidates = [i + 1 for i in range(timers) if i % customers < names] if names < customers else range(1, timers + 1)
    if len(candidates) < d:
        raise SystemExit(f"only {len(candidates)} rows over {names} names; need {d} (raise --timers)")
    return sorted(rng.sample(candidates, d))


# --- 3: calendar arithmetic --------------------------------------------------------------------------------


def tokyo_calendar() -> BusinessCalendar:
    extras = []
    for year in (2025, 2026, 2027):
        extras += [date(year, 12, d) for d in (29, 30, 31)] + [date(year + 1, 1, d) for d in (1, 2, 3, 4)]
    hours = {day: [("09:00", "18:00")] for day in range(5)}
    return BusinessCalendar("Asia/Tokyo", hours, holidays=["JP"], extra_holidays=extras)


def cal_inputs(n: int) -> list[tuple[datetime, timedelta]]:
    rng = random.Random(3)
    start, span = datetime(2026, 1, 1, tzinfo=UTC), 2 * 365 * 86400
    return [
        (start + timedelta(seconds=rng.randrange(span)), timedelta(seconds=rng.randrange(15 * 60, 3 * 86400 + 1)))
        for _ in range(n)
    ]


def cal_rate(cal: BusinessCalendar, inputs) -> float:
    add = cal.add
    for s, d in inputs[:2000]:  # warm the year tables
        add(s, d)
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for s, d in inputs:
            add(s, d)
        best = min(best, time.perf_counter() - started)
    return len(inputs) / best


def cal_profile(cal: BusinessCalendar, inputs) -> str:
    prof = cProfile.Profile()
    prof.enable()
    for s, d in inputs:
        cal.add(s, d)
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(8)
    return out.getvalue()


# --- 4: the actor's per-timer work -------------------------------------------------------------------------


def bench_schema() -> str:
    from tenants.models import Customer

    customer = Customer.objects.filter(slug=BENCH_SLUG).first()
    if customer is None:
        manage("onboard_customer", "--name", "SLA Bench", "--slug", BENCH_SLUG, "--json")
        customer = Customer.objects.get(slug=BENCH_SLUG)
    return customer.schema_name


def sla_truncate(schema: str) -> None:
    with schema_context(schema), connection.cursor() as cursor:
        cursor.execute("TRUNCATE sla_slabreach, sla_slatimerevent, sla_slatimer CASCADE")


def actor_bench(schema: str) -> dict[str, float]:
    from mdr.sla.services import timer_due, timer_start

    logging.getLogger("mdr.sla").setLevel(logging.WARNING)  # one INFO line per breach otherwise
    sla_truncate(schema)
    cal = tokyo_calendar()
    always = BusinessCalendar.always("Asia/Tokyo")
    now = timezone.now()
    ids = []
    started = time.perf_counter()
    with schema_context(schema):
        for i in range(ACTOR_TIMERS):
            # Half 24x7, half business hours; every goal long run out by ``now``: 3 warnings + the breach each.
            business = i % 2
            timer = timer_start(
                subject_type="alert",
                subject_id=str(i),
                metric="acknowledge",
                priority="P2",
                goal_seconds=3600,
                calendar=cal if business else always,
                at=now - timedelta(days=10 if business else 1),
            )
            ids.append(timer.pk)
        start_ms = (time.perf_counter() - started) * 1000 / ACTOR_TIMERS
        t0 = time.perf_counter()
        results = [timer_due(timer_id=pk, now=now) for pk in ids]
        fire_ms = (time.perf_counter() - t0) * 1000 / ACTOR_TIMERS
        if not all(r and r.breached and len(r.warned) == 3 for r in results):
            raise SystemExit("timer_due: not every timer fired 3 warnings and its breach")
        t0 = time.perf_counter()
        again = [timer_due(timer_id=pk, now=now) for pk in ids]
        idle_ms = (time.perf_counter() - t0) * 1000 / ACTOR_TIMERS
        if any(r and (r.breached or r.warned) for r in again):
            raise SystemExit("timer_due: a redelivered message fired again")
    return {"timer_start_ms": start_ms, "timer_due_fire_ms": fire_ms, "timer_due_redelivered_ms": idle_ms}


# --- main --------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--timers", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3, help="sweep rounds per case (median reported)")
    parser.add_argument("--skip-actor", action="store_true", help="leave out the timer_due measurement")
    args = parser.parse_args()
    if args.customers > 10_000 or args.customers < 10:
        parser.error("--customers must be 10..10000 (names are bench_c0000..bench_c9999)")
    if args.timers < 10_000 * 2:
        parser.error("--timers must be at least 20,000")

    redis_flush()
    conn = psycopg.connect(DSN)
    rng = random.Random(2)
    schema = None
    try:
        populate(conn, args.customers, args.timers)
        sweep_round(conn, pick(rng, args.timers, args.customers, args.customers, 100), args.customers)  # warm-up

        tick: dict[str, list[float]] = {str(d): [] for d in DS}
        floor: dict[str, list[float]] = {str(d): [] for d in DS}
        by_names: dict[int, list[float]] = {10: [], args.customers: []}
        for r in range(args.rounds):
            for d in DS:
                t, f = sweep_round(conn, pick(rng, args.timers, args.customers, args.customers, d), args.customers)
                tick[str(d)].append(t)
                floor[str(d)].append(f)
                print(f"round {r + 1} D={d:>6,}: tick {t:9.2f} ms   floor {f:8.2f} ms")
            for names in by_names:
                t, _ = sweep_round(conn, pick(rng, args.timers, args.customers, names, 10_000), args.customers)
                by_names[names].append(t)
                print(f"round {r + 1} 10,000 due over {names:>5,} names: tick {t:9.2f} ms")
        tick_med = {k: round(statistics.median(v), 2) for k, v in tick.items()}
        floor_med = {k: round(statistics.median(v), 3) for k, v in floor.items()}
        ratios = {k: round(tick_med[k] / floor_med[k], 2) for k in ("100", "10000")}
        t10 = round(statistics.median(by_names[10]), 2)
        tmany = round(statistics.median(by_names[args.customers]), 2)
        ratio_customers = round(max(t10, tmany) / min(t10, tmany), 3)

        inputs = cal_inputs(CAL_CALLS)
        business = tokyo_calendar()
        rate_business = cal_rate(business, inputs)
        rate_always = cal_rate(BusinessCalendar.always("Asia/Tokyo"), inputs)

        actor = None
        if not args.skip_actor:
            schema = bench_schema()
            actor = actor_bench(schema)
    finally:
        conn.rollback()
        conn.execute("TRUNCATE jobs_duework RESTART IDENTITY")
        conn.execute("TRUNCATE jobs_timerindex")
        conn.commit()
        conn.close()
        if schema:
            sla_truncate(schema)
        redis_flush()

    def verdict(ok: bool) -> str:
        return "goal met" if ok else "GOAL MISSED"

    print()
    print(f"sweep over {args.timers:,} due-work rows, {args.customers:,} schema names, median of {args.rounds}:")
    print(f"  D={0:>6}: tick {tick_med['0']:9.2f} ms  floor {floor_med['0']:8.3f} ms  (both near zero: no ratio)")
    for k in ("100", "10000"):
        d = int(k)
        print(
            f"  D={d:>6,}: tick {tick_med[k]:9.2f} ms  floor {floor_med[k]:8.3f} ms  ratio {ratios[k]:6.2f}x  "
            f"({tick_med[k] * 1000 / d:.0f} us/row)  goal <= {GOAL_RATIO:g}x: {verdict(ratios[k] <= GOAL_RATIO)}"
        )
    print(
        f"  10,000 due over 10 names {t10:.2f} ms vs over {args.customers:,} names {tmany:.2f} ms: "
        f"{ratio_customers:.3f}x  goal <= {GOAL_CUSTOMERS}x: {verdict(ratio_customers <= GOAL_CUSTOMERS)}"
    )
    print(
        f"cal.add, {CAL_CALLS:,} calls, one core: business (Tokyo 09-18 Mon-Fri, JP + year end) "
        f"{rate_business:,.0f}/s  {verdict(rate_business >= GOAL_ADD_PER_S)};  24x7 {rate_always:,.0f}/s"
    )
    if rate_business < GOAL_ADD_PER_S:
        print("cProfile of the business calendar (top by own time):")
        print(cal_profile(business, inputs[:20_000]))
    if actor:
        print(
            f"actor work on {ACTOR_TIMERS:,} real timers: timer_start {actor['timer_start_ms']:.2f} ms/call, "
            f"timer_due firing 3 warnings + breach {actor['timer_due_fire_ms']:.2f} ms/call, "
            f"redelivered (nothing to do) {actor['timer_due_redelivered_ms']:.2f} ms/call"
        )
    result = {
        "bench": "sla",
        "customers": args.customers,
        "timers": args.timers,
        "tick_ms": tick_med,
        "floor_ms": floor_med,
        "ratio_tick_over_floor": ratios,
        "tick_10000_over_10_customers_ms": t10,
        f"tick_10000_over_{args.customers}_customers_ms": tmany,
        "ratio_customers": ratio_customers,
        "cal_add_per_s_business": round(rate_business),
        "cal_add_per_s_24x7": round(rate_always),
    }
    if actor:
        result.update({k: round(v, 3) for k, v in actor.items()})
    print(json.dumps(result))


if __name__ == "__main__":
    main()
