"""Issue 3's benchmark: the live status poll against /healthz, on SQLite and PostgreSQL, and page weight.

    .venv/bin/python bench/poll.py [--duration 6] [--rounds 3] [--connections 16] [--threads 2]

For each database: a fresh database with ``init-db`` and ``demo``, gunicorn started exactly as in
production (``gunicorn -c gunicorn.conf.py wsgi:app``) on a free port, and then, alternating
round by round so both routes see the same machine load, wrk against

  (a) ``GET /healthz`` (one ``SELECT 1``), and
  (b) the unchanged-status poll a seller's open request page sends: ``GET /refunds/<id>/status?v=N``
      with the seller's session cookie and ``HX-Request: true``, ``N`` being the version the page
      holds (the URL is taken from the page's own poller), which answers 204 with no body.

Reported: requests/s, latency p50/p99, errors (socket errors plus answers outside 2xx/3xx; a 204
is the poll's success), the poll/healthz ratio (goal >= 0.5), the workers gunicorn replaced during
each run (max_requests), the latency of requests sent one at a time, the poll's size on the wire
(goal < 1 KB), and the first load of the request page: HTML, CSS and JS gzip -9 sizes (goal
< 40 KB) and any reference to another host.

``postgresql+pool`` (in the default run, labelled an experiment) is the same PostgreSQL server
through peewee's pooled database (``DATABASE_URL=postgresql+pool://...``): not the shipped
setting, it shows what opening a connection per request costs.
"""
import argparse
import datetime
import html
import re
import sys
import urllib.parse
from html.parser import HTMLParser
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import lib  # noqa: E402

SELLER = "seller-review"  # an UNDER_REVIEW request: support's turn, the page polls every 30 s
BACKENDS = ("sqlite", "postgresql")


class References(HTMLParser):
    """Stylesheets, scripts and every other URL-valued attribute of a page."""

    URL_ATTRIBUTES = {"src", "href", "action", "formaction", "poster", "data", "hx-get", "hx-post",
                      "hx-put", "hx-delete", "hx-patch", "srcset"}

    def __init__(self):
        super().__init__()
        self.stylesheets, self.scripts, self.urls = [], [], []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "link" and "stylesheet" in (values.get("rel") or "").split() and values.get("href"):
            self.stylesheets.append(values["href"])
        if tag == "script" and values.get("src"):
            self.scripts.append(values["src"])
        for name, value in attrs:
            if name in self.URL_ATTRIBUTES and value:
                for part in value.split(",") if name == "srcset" else [value]:
                    self.urls.append((tag, name, part.strip().split(" ")[0]))


def foreign(url, port):
    """True when ``url`` points at a host other than this server."""
    parts = urllib.parse.urlsplit(url)
    if not parts.netloc:
        return False
    return parts.hostname != lib.HOST or (parts.port or 80) != port


CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)['"]?\s*\)|@import\s+['"]([^'"]+)['"]""")


def page_weight(client, page_path):
    """The first load of a page: each resource's raw and gzip -9 size, and foreign references."""
    status, _headers, body = client.get(page_path)
    if status != 200:
        raise RuntimeError(f"{page_path} answered {status}")
    parser = References()
    parser.feed(body.decode())
    rows = [("HTML", page_path, len(body), lib.gzip_size(body))]
    foreign_refs = [f"{tag}[{name}]={url}" for tag, name, url in parser.urls if foreign(url, client.port)]
    assets = [("CSS", url) for url in parser.stylesheets] + [("JS", url) for url in parser.scripts]
    seen = set()
    while assets:
        kind, url = assets.pop(0)
        if url in seen:
            continue
        seen.add(url)
        if foreign(url, client.port):
            continue  # already listed; nothing from elsewhere is fetched
        path = urllib.parse.urljoin(page_path, url)
        status, _headers, data = client.get(path)
        if status != 200:
            raise RuntimeError(f"{path} answered {status}")
        rows.append((kind, path, len(data), lib.gzip_size(data)))
        if kind == "CSS":
            for match in CSS_URL.finditer(data.decode(errors="replace")):
                target = (match.group(1) or match.group(2)).strip()
                if target.startswith("data:"):
                    continue
                if foreign(target, client.port):
                    foreign_refs.append(f"{path}: url({target})")
                else:
                    assets.append(("CSS" if target.endswith(".css") else "CSS asset",
                                   urllib.parse.urljoin(path, target)))
    return rows, foreign_refs


def poll_url(page):
    """The poller's URL and the version the page holds (from ``data-version``)."""
    pollers = re.findall(r'<div id="refund-poll"[^>]*hx-get="([^"]+)"', page, re.DOTALL)
    versions = re.findall(r'data-version="(\d+)"', page)
    if not pollers or not versions:
        raise RuntimeError("the request page has no poller or no data-version (is the request final?)")
    url = html.unescape(pollers[0])
    if f"v={versions[0]}" not in url:
        raise RuntimeError(f"poller URL {url} does not carry the page's version {versions[0]}")
    return url, int(versions[0])


def check_poll(port, url, cookie):
    """One poll on its own socket: must be 204, empty, and not a sign-in redirect in disguise."""
    exchange = lib.raw_exchange(port, url, {"Cookie": cookie, "HX-Request": "true"})
    names = {name.lower() for name, _value in exchange["headers"]}
    if exchange["status"] != 204 or exchange["body_bytes"] or "hx-redirect" in names:
        raise RuntimeError(f"the poll did not answer an empty 204: {exchange}")
    return exchange


def measure(kind, args, workdir):
    """Everything for one database: returns a dict of figures."""
    figures = {"kind": kind}
    with lib.temp_database(kind, "poll", workdir) as url:
        env = lib.app_environment(url, workdir)
        lib.prepare_demo(env)
        with lib.Gunicorn(env, workdir / f"gunicorn-{kind}.log") as server:
            figures["settings"] = server.settings()
            client = lib.Client(server.port)
            try:
                cookie = client.sign_in(SELLER)
                status, _headers, body = client.get("/refunds")
                links = re.findall(r'href="(/refunds/\d+)"', body.decode())
                if status != 200 or not links:
                    raise RuntimeError(f"/refunds of {SELLER} lists no request ({status})")
                page_path = links[0]
                status, _headers, body = client.get(page_path)
                cookie = client.cookie_header()  # the page may have refreshed the session cookie
                poll, version = poll_url(body.decode())
                figures.update(page=page_path, poll=poll, version=version)
                figures["weight"] = page_weight(client, page_path)
                favicon = lib.raw_exchange(server.port, "/favicon.ico", {"Cookie": cookie})
                figures["favicon"] = favicon
            finally:
                client.close()
            poll_headers = {"Cookie": cookie, "HX-Request": "true"}
            figures["poll_exchange"] = check_poll(server.port, poll, cookie)
            figures["healthz_exchange"] = lib.raw_exchange(server.port, "/healthz")
            if figures["healthz_exchange"]["status"] != 200 or figures["healthz_exchange"]["body_bytes"] != 3:
                raise RuntimeError(f"/healthz did not answer 200 ok: {figures['healthz_exchange']}")
            targets = {"healthz": (f"{server.base}/healthz", {}),
                       "poll": (f"{server.base}{poll}", poll_headers)}
            wrk_options = dict(connections=args.connections, threads=args.threads)
            for target, headers in targets.values():  # warm-up: workers import, caches fill
                lib.wrk(target, duration=2, headers=headers, **wrk_options)
            figures["sequential"] = {}
            for name, (target, headers) in targets.items():  # one at a time: latency without queueing
                path = target[len(server.base):]
                timings, statuses = lib.sequential_timings(server.port, path, headers, args.sequential)
                figures["sequential"][name] = (timings, statuses)
            boots_before = server.worker_boots()
            figures["load_before"] = lib.load_average()
            rounds = []
            for _ in range(args.rounds):
                runs = {}
                for name, (target, headers) in targets.items():
                    boots, cpu = server.worker_boots(), server.cpu_seconds()
                    runs[name] = lib.wrk(target, duration=args.duration, headers=headers, **wrk_options)
                    runs[name]["recycled"] = server.worker_boots() - boots
                    runs[name]["cpu_ms"] = (server.cpu_seconds() - cpu) * 1000 / max(runs[name]["requests"], 1)
                rounds.append(runs)
            figures["load_after"] = lib.load_average()
            figures["rounds"] = rounds
            figures["recycled"] = server.worker_boots() - boots_before
            check_poll(server.port, poll, cookie)  # still a 204: the cookie held for the whole run
    return figures


def summarise(runs):
    """Per route: median over rounds of rps and latencies, total errors."""
    summary = {}
    for name in ("healthz", "poll"):
        results = [run[name] for run in runs]
        summary[name] = {
            "rps": lib.median([r["rps"] for r in results]),
            "p50": lib.median([r["p50_ms"] for r in results]),
            "p99": lib.median([r["p99_ms"] for r in results]),
            "requests": sum(r["requests"] for r in results),
            "errors": sum(r["errors"] for r in results),
            "non2xx": sum(r["non2xx3xx"] for r in results),
            "socket": {kind: sum(r["socket_errors"][kind] for r in results)
                       for kind in ("connect", "read", "write", "timeout")},
            "bytes": lib.median([r["bytes_per_response"] for r in results]),
            "cpu_ms": lib.median([r["cpu_ms"] for r in results]),
        }
    return summary


def label(kind):
    return kind + (" (experiment)" if kind not in BACKENDS else "")


def report(all_figures, args, boot_cpu):
    lines = [f"# Live status poll vs /healthz ({datetime.date.today().isoformat()})", ""]
    lines += lib.machine_description()
    settings = all_figures[0]["settings"]
    lines += [
        f"- gunicorn as configured for production: {settings['workers']} workers × {settings['threads']} "
        f"threads ({settings['worker_class']}), keep-alive {settings['keepalive']} s, max_requests "
        f"{settings['max_requests']} (+ jitter {settings['max_requests_jitter']}), access log to stdout (a file)",
        f"- wrk -t{args.threads} -c{args.connections}, {args.rounds} rounds of {args.duration} s per route, the two "
        "routes back to back in each round; the table gives the median over the rounds",
        f"- Poll: the URL of the page's own poller, as `{SELLER}`, with `Cookie` and `HX-Request: true`; "
        "checked to answer an empty 204 (not a sign-in redirect) before and after the run",
    ]
    if any(f["kind"] not in BACKENDS for f in all_figures):
        lines.append("- `postgresql+pool` (experiment, not the shipped setting): the same server through peewee's "
                     "pooled PostgreSQL (`DATABASE_URL=postgresql+pool://…`), to show what opening a connection "
                     "per request costs")
    lines += ["", "## Throughput and latency under load (wrk)", ""]
    rows = []
    for figures in all_figures:
        summary = summarise(figures["rounds"])
        figures["summary"] = summary
        ratio = summary["poll"]["rps"] / summary["healthz"]["rps"]
        figures["ratio"] = ratio
        for name, route in (("healthz", "/healthz"), ("poll", "poll (204)")):
            s = summary[name]
            socket_errors = ", ".join(f"{kind} {count}" for kind, count in s["socket"].items() if count)
            recycled = sum(run[name]["recycled"] for run in figures["rounds"])
            cpu_ratio = summary["healthz"]["cpu_ms"] / summary["poll"]["cpu_ms"]
            rows.append([label(figures["kind"]), route, f"{s['rps']:.0f}", lib.ms(s["p50"]), lib.ms(s["p99"]),
                         s["requests"], f"{s['errors']}" + (f" ({socket_errors})" if socket_errors else ""),
                         recycled, f"**{ratio:.2f}**" if name == "poll" else "", f"{s['cpu_ms']:.2f}",
                         f"{cpu_ratio:.2f}" if name == "poll" else ""])
    lines.append(lib.table(["database", "route", "req/s", "p50 ms", "p99 ms", "requests", "errors",
                            "workers recycled", "poll / healthz", "gunicorn CPU ms per request",
                            "CPU ratio healthz / poll"], rows))
    lines += ["", "Goal: poll / healthz ≥ 0.5, and no errors (socket errors plus answers outside 2xx/3xx; "
              "the poll's 204 is a success).", "",
              "The CPU columns are gunicorn's own CPU time (master, workers, and replaced workers) over the wrk "
              "runs, divided by the requests served: they move much less with other load on the machine than req/s. "
              "Their ratio is the req/s ratio a CPU-bound server would reach; it leaves out PostgreSQL's side "
              "(for `postgresql`, a new server process per request).", "", "Round by round:", ""]
    round_rows = []
    for figures in all_figures:
        for number, run in enumerate(figures["rounds"], start=1):
            round_rows.append([label(figures["kind"]), number, f"{run['healthz']['rps']:.0f}",
                               f"{run['poll']['rps']:.0f}", f"{run['poll']['rps'] / run['healthz']['rps']:.2f}",
                               f"{lib.ms(run['healthz']['p99_ms'])} / {lib.ms(run['poll']['p99_ms'])}",
                               f"{run['healthz']['recycled']} / {run['poll']['recycled']}"])
    lines.append(lib.table(["database", "round", "healthz req/s", "poll req/s", "ratio", "p99 ms healthz / poll",
                            "recycled healthz / poll"], round_rows))
    lines += [""]
    lines += [f"- {label(f['kind'])}: load average {f['load_before']} before the rounds, {f['load_after']} after"
              for f in all_figures]
    lines += [f"- A worker is replaced after about {settings['max_requests']} requests; each new worker imports the "
              f"app, {boot_cpu:.2f} s of CPU here (gunicorn.conf.py does not preload the app)."]
    lines += ["", f"## One request at a time ({args.sequential} sequential requests on a kept-alive connection)", ""]
    seq_rows = []
    for figures in all_figures:
        for name, route in (("healthz", "/healthz"), ("poll", "poll (204)")):
            timings, statuses = figures["sequential"][name]
            seq_rows.append([label(figures["kind"]), route, lib.ms(lib.median(timings)),
                             lib.ms(lib.percentile(timings, 0.95)), lib.ms(lib.percentile(timings, 0.99)),
                             ", ".join(f"{code}×{count}" for code, count in sorted(statuses.items()))])
    lines.append(lib.table(["database", "route", "median ms", "p95 ms", "p99 ms", "statuses"], seq_rows))
    lines += ["", "## Size of one unchanged-status poll on the wire", ""]
    size_rows = []
    for figures in all_figures:
        for route, exchange in (("poll", figures["poll_exchange"]), ("/healthz", figures["healthz_exchange"])):
            size_rows.append([label(figures["kind"]), route, exchange["status"], exchange["head_bytes"],
                              exchange["body_bytes"], f"**{exchange['total_bytes']}**", exchange["request_bytes"]])
    lines.append(lib.table(["database", "route", "status", "response head B", "body B", "response total B",
                            "request B"], size_rows))
    first = all_figures[0]
    lines += ["", f"Goal: < 1 KB. Measured on a fresh socket with `Connection: close`; wrk counted "
              f"{first['summary']['poll']['bytes']:.0f} bytes per poll response on kept-alive connections. The "
              "request is what wrk sent (a browser adds its own headers). The poll response's headers:", ""]
    header_rows = sorted(((f"`{name}: {value[:60]}{'…' if len(value) > 60 else ''}`", len(name) + len(value) + 4)
                          for name, value in first["poll_exchange"]["headers"]), key=lambda row: -row[1])
    lines.append(lib.table(["header", "bytes"], header_rows))
    lines += ["", f"## Page weight: first load of `{first['page']}` (seller `{SELLER}`)", ""]
    rows, foreign_refs = first["weight"]
    weight_rows = [[kind, f"`{path}`", raw, gz] for kind, path, raw, gz in rows]
    weight_rows.append(["**total**", "", sum(r[2] for r in rows), f"**{sum(r[3] for r in rows)}**"])
    lines.append(lib.table(["kind", "resource", "bytes", "gzip -9 bytes"], weight_rows))
    total_kb = sum(r[3] for r in rows) / 1024
    lines += ["", f"Total {total_kb:.1f} KB compressed (goal < 40 KB). References to other hosts (HTML "
              f"src/href/action/hx-*, CSS url()/@import): {', '.join(foreign_refs) if foreign_refs else 'none'}."]
    fav = first["favicon"]
    lines += [f"Not referenced, but asked for by browsers: `/favicon.ico` answers {fav['status']} "
              f"({fav['total_bytes']} bytes, {fav['body_bytes']} of them body)."]
    for other in all_figures[1:]:
        lines += [f"On {label(other['kind'])} the same page weighs {sum(r[3] for r in other['weight'][0]) / 1024:.1f} "
                  "KB compressed."]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per database (default 3)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--sequential", type=int, default=200, help="one-at-a-time requests per route (default 200)")
    parser.add_argument("--backends", default=",".join(BACKENDS + ("postgresql+pool",)),
                        help="comma-separated: sqlite, postgresql, postgresql+pool (experiment); default all three")
    args = parser.parse_args()
    lib.check_tools()
    lib.terminate_on_sigterm()
    all_figures = []
    with lib.workdir("bench-poll-") as workdir:
        for kind in args.backends.split(","):
            print(f"[poll] {kind}: preparing the database and starting gunicorn …", file=sys.stderr, flush=True)
            all_figures.append(measure(kind, args, workdir))
        boot_cpu = lib.app_boot_cpu(lib.app_environment(f"sqlite:///{workdir}/unused.sqlite3", workdir))
    lib.write_results("poll", report(all_figures, args, boot_cpu))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("interrupted (gunicorn, databases and temporary files were removed)")
