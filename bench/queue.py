"""Issue 4's benchmark: the desk queue on PostgreSQL with 100,000 refund requests.

    .venv/bin/python bench/queue.py [--requests 100000] [--duration 5] [--sequential 40] [--connections 8]

1. A fresh PostgreSQL database with ``init-db`` and ``demo``, plus 10 generated requests (10 shops,
   one request each, mixed states): the number of SQL statements each /desk view runs, counted
   in-process (Flask's test client, a handler on the ``peewee`` logger).
2. The rest of the generated requests, up to ``--requests`` (one per shop, so the "one open request
   per shop" index holds; about half open, in nine open states; due dates spread over today ± 30
   days; a tenth assigned to ``agent``, four tenths to four other agents), written by
   ``INSERT ... SELECT generate_series`` in one statement, then ANALYZE. The statements are counted
   again: they must not grow with the table. Each captured SELECT is run once more under
   ``EXPLAIN (ANALYZE, BUFFERS)`` for its execution time in the database.
3. gunicorn as in production on that database, signed in as ``agent``: for /healthz and each view,
   ``--sequential`` requests one after another (median, p95) and a wrk run of ``--duration``
   seconds (p50, p95, p99, req/s, errors).

Also reported: each view's median in-process time next to its time in PostgreSQL (EXPLAIN
ANALYZE), the plan of each view's slowest statement, and candidate fixes tried on the throwaway
database only (trigram indexes for the substring search, a covering partial index for the counts,
the request-number search by id alone), with the statements re-timed.

Goal (issue 4): p95 < 100 ms at 100,000 requests, with a constant number of queries per page.
"""
import argparse
import contextlib
import datetime
import logging
import re
import sys
import time
import urllib.parse
from pathlib import Path

# This file is called queue.py, like the standard library's queue module (which logging.handlers,
# concurrent.futures and others import): take bench/ off the front of the path, so they get the real
# one, and put it (and the project) at the end, for lib and portal.
_BENCH = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _BENCH]
sys.path += [str(_BENCH), str(_BENCH.parent)]

import lib  # noqa: E402

SMALL = 10
PREFIX_SHOP = "压测店铺-"
PREFIX_ENTITY = "压测商贸有限公司-"
OTHER_AGENTS = 4

# State by (k * 37) % 100: half final, half spread over the open states (k = 1, 2, … per shop).
STATE_BUCKETS = [
    (30, "COMPLETED"), (38, "REJECTED"), (45, "CANCELLED"), (50, "EXPIRED"),
    (65, "UNDER_REVIEW"), (70, "SUBMITTED"), (75, "WAITING_PERIOD"), (83, "NEEDS_INFO"), (87, "ON_HOLD"),
    (93, "APPROVED"), (96, "PAYOUT_PROCESSING"), (98, "PAYOUT_FAILED"), (100, "ESCALATED"),
]


def state_case(bucket):
    arms = " ".join(f"WHEN {bucket} < {upper} THEN '{state}'" for upper, state in STATE_BUCKETS)
    return f"CASE {arms} END"


# --- generating data ------------------------------------------------------------------------------

FALLBACKS = {"text": "''", "character varying": "''", "integer": "0", "bigint": "0", "smallint": "0",
             "boolean": "false", "timestamp without time zone": "now()", "date": "current_date",
             "numeric": "0", "real": "0", "double precision": "0"}


def insert_columns(cursor, table, known):
    """Column list and expressions for ``table``: ours where we know the column, else a neutral value
    for any column that is NOT NULL without a default (so a column added by a later migration does not
    break the benchmark)."""
    cursor.execute("SELECT column_name, is_nullable, column_default, data_type FROM information_schema.columns "
                   "WHERE table_schema = 'public' AND table_name = %s ORDER BY ordinal_position", (table,))
    columns, expressions = [], []
    for name, nullable, default, data_type in cursor.fetchall():
        if name == "id":
            continue
        if name in known:
            columns.append(f'"{name}"')
            expressions.append(known[name])
        elif nullable == "NO" and default is None:
            if data_type not in FALLBACKS:
                raise RuntimeError(f"{table}.{name} ({data_type}) is required and the benchmark has no value for it")
            columns.append(f'"{name}"')
            expressions.append(FALLBACKS[data_type])
    return ", ".join(columns), ", ".join(expressions)


def add_agents(cursor):
    """Four more agents, so "mine" and "unassigned" are real filters; their password cannot sign in."""
    columns, values = insert_columns(cursor, "user", {
        "username": "'bench-agent-' || g", "password_hash": "'!'", "role": "'agent'",
        "display_name": "'客服 压测' || g", "active": "true", "locale": "'zh_CN'", "created_at": "now()"})
    # Built from this file's constants and the catalogue's column names only: no outside input.
    cursor.execute(f'INSERT INTO "user" ({columns}) SELECT {values} '  # noqa: S608
                   f'FROM generate_series(1, {OTHER_AGENTS}) AS g')


def add_requests(cursor, first, last, agent_id):
    """Shops ``first``..``last`` with one request each, in a single INSERT ... SELECT."""
    shop_columns, shop_values = insert_columns(cursor, "shop", {
        "name": f"'{PREFIX_SHOP}' || lpad(g::text, 6, '0')",
        "entity_name": f"'{PREFIX_ENTITY}' || lpad(g::text, 6, '0')",
        "status": "'ACTIVE'", "ban_reason": "''", "unfinished_orders": "0", "open_after_sales": "0",
        "contact_name": "'联系人'", "contact_phone": "'13800000000'",
        "last_order_at": "now() - interval '200 days'", "created_at": "now() - interval '400 days'"})
    k = f"substring(s.name from {len(PREFIX_SHOP) + 1})::int"
    state = state_case(f"(({k}) * 37 % 100)")
    assignee = (f"CASE WHEN ({k}) * 7 % 10 = 0 THEN {int(agent_id)} "  # noqa: S608 (constants only)
                f"WHEN ({k}) * 7 % 10 BETWEEN 1 AND 4 THEN (SELECT id FROM \"user\" "
                f"WHERE username = 'bench-agent-' || (({k}) % {OTHER_AGENTS} + 1)) END")
    request_columns, request_values = insert_columns(cursor, "refund_request", {
        "shop_id": "s.id",
        "kind": f"CASE WHEN {state} = 'WAITING_PERIOD' THEN 'FULL_EXIT' ELSE 'SURPLUS' END",
        "requested_fen": f"100000 + ({k}) % 50 * 10000",
        "approved_fen": f"CASE WHEN {state} IN ('APPROVED', 'PAYOUT_PROCESSING', 'PAYOUT_FAILED', 'COMPLETED') "
                        f"THEN 100000 + ({k}) % 50 * 10000 END",
        "state": state,
        "idempotency_key": f"md5(({k})::text)",
        "note": "''",
        "created_at": f"now() - (({k}) % 60 + 2) * interval '1 day'",
        "state_changed_at": f"now() - (({k}) % 60 + 1) * interval '1 day'",
        "review_starts_at": f"CASE WHEN {state} = 'WAITING_PERIOD' THEN now() + interval '10 days' END",
        "assigned_to_id": assignee,
        "version": f"2 + ({k}) % 3",
        "due_date": f"current_date + (({k}) * 7919 % 61 - 30)",
        "info_due_date": f"CASE WHEN {state} = 'NEEDS_INFO' THEN current_date + 3 END",
    })
    # Built from this file's constants, integers and the catalogue's column names only.
    cursor.execute(
        f"WITH s AS (INSERT INTO shop ({shop_columns}) SELECT {shop_values} "  # noqa: S608
        f"FROM generate_series({first}, {last}) AS g RETURNING id, name) "
        f"INSERT INTO refund_request ({request_columns}) SELECT {request_values} FROM s")
    return cursor.rowcount


@contextlib.contextmanager
def connect(url):
    import psycopg2

    connection = psycopg2.connect(url)
    connection.autocommit = True
    try:
        yield connection
    finally:
        connection.close()


def table_facts(cursor):
    cursor.execute("SELECT count(*), count(*) FILTER (WHERE state NOT IN "
                   "('COMPLETED', 'REJECTED', 'CANCELLED', 'EXPIRED')) FROM refund_request")
    total, open_ = cursor.fetchone()
    cursor.execute("SELECT count(*) FROM shop")
    return {"requests": total, "open": open_, "shops": cursor.fetchone()[0]}


# --- counting queries in-process -------------------------------------------------------------------

class StatementLog(logging.Handler):
    """Collects every (sql, params) peewee executes while ``active``."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.active = False
        self.statements = []

    def emit(self, record):
        if self.active and isinstance(record.msg, tuple):
            self.statements.append(record.msg)


class InProcess:
    """The app in this process with Flask's test client, signed in as ``agent`` through the form."""

    def __init__(self, url, workdir):
        from portal import create_app

        self.app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-queue", "UPLOAD_DIR": str(workdir / "up")})
        self.client = self.app.test_client()
        page = self.client.get("/login").get_data(as_text=True)
        answer = self.client.post("/login", data={"username": "agent", "password": lib.PASSWORD,
                                                  "csrf_token": lib.csrf_token(page)})
        if answer.status_code not in (302, 303) or "/login" in answer.headers.get("Location", ""):
            raise RuntimeError(f"in-process sign-in failed: {answer.status_code}")
        self.log = StatementLog()
        logger = logging.getLogger("peewee")
        logger.addHandler(self.log)
        logger.setLevel(logging.DEBUG)

    def close(self):
        logging.getLogger("peewee").removeHandler(self.log)
        from portal.core.db import db

        if not db.is_closed():
            db.close()

    def timed(self, path, count=5):
        """Median wall time (ms) of ``count`` in-process GETs: the app's own time, no HTTP server."""
        timings = []
        for _ in range(count):
            started = time.perf_counter()
            self.client.get(path)
            timings.append((time.perf_counter() - started) * 1000.0)
        return lib.median(timings)

    def statements(self, path):
        """(status, rows shown, statements) of one GET."""
        self.log.statements = []
        self.log.active = True
        try:
            answer = self.client.get(path)
        finally:
            self.log.active = False
        page = answer.get_data(as_text=True)
        rows = len(re.findall(r'<tr(?: class="[^"]*")?>\s*<td><a href="/desk/refunds/', page))
        return answer.status_code, rows, list(self.log.statements)


def describe(sql):
    """A short name for a statement: what it reads."""
    tables = re.findall(r'(?:FROM|JOIN)\s+"?(\w+)"?', sql)
    kind = "count" if re.search(r"\bCOUNT\(", sql, re.IGNORECASE) else "select"
    if not sql.lstrip().upper().startswith("SELECT"):
        kind = sql.split()[0].lower()
    return f"{kind} {'+'.join(dict.fromkeys(tables))}"


def explain(cursor, sql, params, repeat=3):
    """Execution time (ms, median of ``repeat`` runs) and plan text of a statement, run under
    EXPLAIN (ANALYZE, BUFFERS)."""
    times = []
    for _ in range(repeat):
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        executed = re.search(r"Execution Time: ([\d.]+) ms", plan)
        times.append(float(executed.group(1)) if executed else float("nan"))
    return lib.median(times), plan


# --- the run -----------------------------------------------------------------------------------

def views(search_name, search_number):
    return [
        ("/healthz", "/healthz"),
        ("open", "/desk?view=open"),
        ("overdue", "/desk?view=overdue"),
        ("mine", "/desk?view=mine"),
        ("unassigned", "/desk?view=unassigned"),
        ("search: shop name", "/desk?view=open&q=" + urllib.parse.quote(search_name)),
        ("search: request No.", "/desk?view=open&q=" + urllib.parse.quote(search_number)),
        ("state=NEEDS_INFO", "/desk?view=open&state=NEEDS_INFO"),
    ]


def run(args, workdir):
    figures = {"loaded": {}}
    with lib.temp_database("postgresql", "queue", workdir) as url, connect(url) as connection:
        cursor = connection.cursor()
        env = lib.app_environment(url, workdir)
        lib.prepare_demo(env)
        cursor.execute("SELECT id FROM \"user\" WHERE username = 'agent'")
        agent_id = cursor.fetchone()[0]
        add_agents(cursor)
        add_requests(cursor, 1, SMALL, agent_id)
        cursor.execute("ANALYZE")
        figures["small_facts"] = table_facts(cursor)
        # A shop name that matches one shop and the number of an open request, both near the middle.
        middle = args.requests // 2 + 1
        search_name = f"{PREFIX_SHOP}{middle:06d}"
        cursor.execute("SELECT max(id) FROM refund_request WHERE state NOT IN "
                       "('COMPLETED', 'REJECTED', 'CANCELLED', 'EXPIRED')")
        targets = views(search_name, str(cursor.fetchone()[0]))
        app = InProcess(url, workdir)
        try:
            small = {label: app.statements(path) for label, path in targets[1:]}
            started = time.monotonic()
            add_requests(cursor, SMALL + 1, args.requests, agent_id)
            figures["load_seconds"] = time.monotonic() - started
            started = time.monotonic()
            cursor.execute("ANALYZE")
            figures["analyze_seconds"] = time.monotonic() - started
            figures["big_facts"] = table_facts(cursor)
            cursor.execute("SELECT id FROM refund_request WHERE state = 'UNDER_REVIEW' ORDER BY id "
                           "OFFSET %s LIMIT 1", (figures["big_facts"]["open"] // 4,))
            search_number = str(cursor.fetchone()[0])
            targets = views(search_name, search_number)
            big = {label: app.statements(path) for label, path in targets[1:]}
            figures["in_process_ms"] = {label: app.timed(path) for label, path in targets[1:]}
        finally:
            app.close()
        plans = {}
        for label, (_status, _rows, statements) in big.items():
            timed = []
            for sql, params in statements:
                if sql.lstrip().upper().startswith("SELECT"):
                    explain(cursor, sql, params, repeat=1)  # once to warm the cache
                    milliseconds, plan = explain(cursor, sql, params)
                    timed.append((milliseconds, describe(sql), sql, params, plan))
            plans[label] = timed
        figures.update(targets=targets, small=small, big=big, plans=plans)
        with lib.Gunicorn(env, workdir / "gunicorn-queue.log") as server:
            figures["settings"] = server.settings()
            client = lib.Client(server.port)
            try:
                cookie = client.sign_in("agent")
            finally:
                client.close()
            headers = {"Cookie": cookie}
            for _label, path in targets:  # warm-up: every worker imports and caches templates
                lib.wrk(f"{server.base}{path}", duration=1, connections=args.connections, threads=1, headers=headers)
            figures["load_before"] = lib.load_average()
            measured = {}
            for label, path in targets:
                timings, statuses = lib.sequential_timings(server.port, path, headers, args.sequential)
                cpu = server.cpu_seconds()
                result = lib.wrk(f"{server.base}{path}", duration=args.duration, connections=args.connections,
                                 threads=1, headers=headers)
                result["cpu_ms"] = (server.cpu_seconds() - cpu) * 1000 / max(result["requests"], 1)
                measured[label] = {"timings": timings, "statuses": statuses, "wrk": result}
            figures["load_after"] = lib.load_average()
            figures["measured"] = measured
        figures["what_if"] = what_if(cursor, big, plans)
    return figures


CANDIDATE_INDEXES = [
    # Substring search (ILIKE '%…%') on shop names and entities: trigram GIN indexes (PostgreSQL only).
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX bench_shop_name_trgm ON shop USING gin (name gin_trgm_ops)",
    "CREATE INDEX bench_shop_entity_name_trgm ON shop USING gin (entity_name gin_trgm_ops)",
    # The per-filter counts read every open request: a partial index holding every column they use
    # (id, due_date, assigned_to_id) lets PostgreSQL count from the index alone (index-only scan).
    # (Also usable for the queue's order, like refund_request_open_by_due, which it could replace.)
    "CREATE INDEX bench_open_by_due_covering ON refund_request (due_date, id) INCLUDE (assigned_to_id) "
    "WHERE state NOT IN ('COMPLETED', 'REJECTED', 'CANCELLED', 'EXPIRED')",
    "VACUUM (ANALYZE) refund_request",
    "ANALYZE shop",
]
NUMBER_OR_NAME = '(("t1"."id" = %s) OR ("t2"."name" ILIKE %s))'


def buffers(plan):
    """Pages the statement touched (the top node's "Buffers:" line): unlike time, not moved by load."""
    match = re.search(r"Buffers: shared((?: \w+=\d+)+)", plan)
    return sum(int(value) for value in re.findall(r"=(\d+)", match.group(1))) if match else 0


def rewrite_number_search(sql, params):
    """The request-number search without its shop-name half (a number looked up by id alone)."""
    position = sql.index(NUMBER_OR_NAME)
    index = sql[:position].count("%s")
    return sql.replace(NUMBER_OR_NAME, '("t1"."id" = %s)'), list(params[:index + 1]) + list(params[index + 2:])


def what_if(cursor, big, plans):
    """Candidate fixes, tried on the throwaway database only: each statement timed just before and just
    after the candidate indexes are made (median of 3 under EXPLAIN ANALYZE), with the pages it read."""
    statements = [(label, sql, params) for label, (_status, _rows, found) in big.items() for sql, params in found
                  if sql.lstrip().upper().startswith("SELECT")]
    before = {}
    for label, sql, params in statements:
        explain(cursor, sql, params, repeat=1)
        before[(label, sql)] = explain(cursor, sql, params)
    for statement in CANDIDATE_INDEXES:
        cursor.execute(statement)
    results = {}
    for label, sql, params in statements:
        was_ms, was_plan = before[(label, sql)]
        explain(cursor, sql, params, repeat=1)
        now_ms, now_plan = explain(cursor, sql, params)
        rows = results.setdefault(label, [])
        rows.append((describe(sql), was_ms, now_ms, buffers(was_plan), buffers(now_plan), now_plan))
        if NUMBER_OR_NAME in sql:
            rewritten, new_params = rewrite_number_search(sql, params)
            explain(cursor, rewritten, new_params, repeat=1)
            rewritten_ms, rewritten_plan = explain(cursor, rewritten, new_params)
            rows.append(("same, by id only", was_ms, rewritten_ms, buffers(was_plan), buffers(rewritten_plan),
                         rewritten_plan))
    return results


def report(figures, args):
    small_facts, big_facts = figures["small_facts"], figures["big_facts"]
    lines = [f"# Desk queue at {big_facts['requests']:,} refund requests ({datetime.date.today().isoformat()})", ""]
    lines += lib.machine_description()
    settings = figures["settings"]
    lines += [
        f"- gunicorn as configured for production: {settings['workers']} workers × {settings['threads']} threads; "
        "PostgreSQL on the same machine",
        f"- Data: `init-db` + `demo`, then {small_facts['requests']:,} requests ({small_facts['open']} open) for the "
        f"small count, then {big_facts['requests']:,} requests ({big_facts['open']:,} open) in {big_facts['shops']:,} "
        f"shops, one request per shop; loaded in {figures['load_seconds']:.1f} s, "
        f"ANALYZE {figures['analyze_seconds']:.1f} s",
        f"- Latency: {args.sequential} requests one after another on one kept-alive connection (median, p95), "
        f"then wrk -t1 -c{args.connections} for {args.duration} s (p50, p95, p99 from wrk's latency histogram)",
        f"- Load average {figures['load_before']} before the measurements, {figures['load_after']} after",
        "",
        "## Latency (signed in as `agent`, full page, no HX-Request)",
        "",
    ]
    rows = []
    for label, path in figures["targets"]:
        m = figures["measured"][label]
        w = m["wrk"]
        timings = m["timings"]
        statuses = ", ".join(f"{code}×{count}" for code, count in sorted(m["statuses"].items()))
        rows.append([label, f"`{path}`", lib.ms(lib.median(timings)), lib.ms(lib.percentile(timings, 0.95)),
                     lib.ms(w["p50_ms"]), f"**{lib.ms(w['p95_ms'])}**", lib.ms(w["p99_ms"]), f"{w['rps']:.0f}",
                     w["errors"], statuses, lib.ms(w["cpu_ms"])])
    lines.append(lib.table(["view", "URL", "seq median ms", "seq p95 ms", "wrk p50 ms", "wrk p95 ms", "wrk p99 ms",
                            "req/s", "wrk errors", "seq statuses", "gunicorn CPU ms per request"], rows))
    lines += ["", "Goal: p95 < 100 ms. wrk's figures include waiting for a free worker thread under concurrency "
              f"{args.connections}; the sequential ones are one request at a time. The CPU column is gunicorn's own "
              "CPU time over the wrk run divided by the requests (PostgreSQL's share not included): it moves much "
              "less with other load on the machine than the latencies.", "",
              "## Queries per /desk request (in-process, counted on the `peewee` logger)", ""]
    rows = []
    for label, _path in figures["targets"][1:]:
        s_status, s_rows, s_statements = figures["small"][label]
        b_status, b_rows, b_statements = figures["big"][label]
        timed = figures["plans"][label]
        slowest = max(timed, default=(0.0, "-", "", (), ""), key=lambda item: item[0])
        total_db = sum(item[0] for item in timed)
        rows.append([label, f"{len(s_statements)} ({s_rows} rows)", f"{len(b_statements)} ({b_rows} rows)",
                     "yes" if len(s_statements) == len(b_statements) else "**no**",
                     f"{total_db:.1f}", f"{slowest[1]}: {slowest[0]:.1f}"])
    lines.append(lib.table(["view", f"statements at {small_facts['requests']} requests",
                            f"statements at {big_facts['requests']:,}", "constant",
                            "DB execution ms (EXPLAIN ANALYZE, sum)", "slowest statement: ms"], rows))
    first_label = figures["targets"][1][0]
    lines += ["", f"The statements of one request (`{first_label}`, at {big_facts['requests']:,}), with their "
              "execution time:", ""]
    stmt_rows = []
    timed_by_sql = {sql: (ms_, name) for ms_, name, sql, _params, _plan in figures["plans"][first_label]}
    for number, (sql, _params) in enumerate(figures["big"][first_label][2], start=1):
        timing = timed_by_sql.get(sql)
        stmt_rows.append([number, describe(sql), f"{timing[0]:.2f}" if timing else "-",
                          "`" + re.sub(r"\s+", " ", sql)[:140].replace("|", "\\|") + ("…`" if len(sql) > 140 else "`")])
    lines.append(lib.table(["#", "statement", "ms", "SQL (start)"], stmt_rows))
    lines += ["", "## Where the time goes (at " + f"{big_facts['requests']:,} requests)", ""]
    split_rows = []
    for label, _path in figures["targets"][1:]:
        database = sum(item[0] for item in figures["plans"][label])
        app_ms = figures["in_process_ms"][label]
        split_rows.append([label, lib.ms(app_ms), lib.ms(database), lib.ms(max(app_ms - database, 0.0)),
                           lib.ms(lib.median(figures["measured"][label]["timings"]))])
    lines.append(lib.table(["view", "in-process request ms (median of 5)", "of it in PostgreSQL (EXPLAIN ANALYZE)",
                            "the rest: Python, rendering, round trips", "through gunicorn, sequential median ms"],
                           split_rows))
    lines += ["", "## What would fix the slow statements (tried on the throwaway database only)", "",
              "Each statement timed just before and just after: "
              + "; ".join(f"`{statement}`" for statement in CANDIDATE_INDEXES)
              + ". And the request-number search with the shop-name half dropped (a number looked up by id only).",
              ""]
    fix_rows = []
    for label, rows in figures["what_if"].items():
        for name, before, after, pages_before, pages_after, _plan in rows:
            if before >= 1.0 or after >= 1.0:
                fix_rows.append([label, name, f"{before:.1f}", f"**{after:.1f}**", pages_before, pages_after])
    lines.append(lib.table(["view", "statement", "ms now", "ms with the change", "pages read now",
                            "pages read with the change"], fix_rows))
    lines += ["", "## Plans of the slowest statement of each view", ""]
    for label, _path in figures["targets"][1:]:
        timed = figures["plans"][label]
        if not timed:
            continue
        milliseconds, name, sql, params, plan = max(timed, key=lambda item: item[0])
        lines += [f"### {label}: {name}, {milliseconds:.1f} ms", "", "```sql", sql, f"-- params: {list(params)}",
                  "```", "", "```", plan, "```", ""]
    lines += ["## Plans with the changes", ""]
    for label, rows in figures["what_if"].items():
        for name, before, after, _pages_before, _pages_after, plan in rows:
            if before >= 5.0:
                lines += [f"### {label}: {name}, {before:.1f} → {after:.1f} ms", "", "```", plan, "```", ""]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=100_000, help="generated refund requests (default 100000)")
    parser.add_argument("--duration", type=int, default=5, help="seconds of wrk per view (default 5)")
    parser.add_argument("--sequential", type=int, default=40, help="sequential requests per view (default 40)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (default 8)")
    args = parser.parse_args()
    if args.requests <= SMALL:
        parser.error(f"--requests must be more than {SMALL}")
    lib.check_tools()
    lib.terminate_on_sigterm()
    with lib.workdir("bench-queue-") as workdir:
        print("[queue] preparing PostgreSQL …", file=sys.stderr, flush=True)
        figures = run(args, workdir)
    lib.write_results("queue", report(figures, args))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("interrupted (gunicorn, databases and temporary files were removed)")
