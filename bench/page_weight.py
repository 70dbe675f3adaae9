"""Issue 11, item 11: what a phone's first visit weighs on the wire, measured with Lighthouse 12.

    .venv/bin/python bench/page_weight.py [--lighthouse /tmp/portal-lighthouse] [--root CHECKOUT]

A fresh SQLite database with ``init-db`` and ``demo``, gunicorn alone (``gunicorn.conf.py``, no proxy
in front) on a free port, ``seller-ok`` signed in through the real form, then Lighthouse's mobile
run (its default: a phone's screen and a cold cache) on /login, /deposit, /refunds/new and the
seller's first request page. Signed-in pages get the session cookie through ``--extra-headers``.
Reported per page: Lighthouse's ``total-byte-weight`` (every response's transfer size: headers and
body as sent, compressed or not) and each request's share. Goal: at most 30 KB per page.

Lighthouse is not a dependency of the portal: install it outside the checkout first,
``npm install --prefix /tmp/portal-lighthouse lighthouse@12.2.3`` (13.x needs Node 22). Chromium is
Debian's (``CHROME_PATH``, default /usr/bin/chromium). ``--root`` serves another checkout (e.g.
``git archive main | tar -x -C /tmp/before``) with this venv, to measure a "before".
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lib  # noqa: E402

SELLER = "seller-ok"
GOAL_BYTES = 30 * 1024
CHROME_FLAGS = "--headless=new --no-sandbox --disable-gpu"


def lighthouse(cli, url, headers, out):
    """One Lighthouse mobile run on ``url``; returns its JSON report."""
    command = ["node", str(cli), url, "--output=json", f"--output-path={out}", "--quiet",
               "--only-audits=total-byte-weight,network-requests", f"--chrome-flags={CHROME_FLAGS}"]
    if headers:
        command.append(f"--extra-headers={json.dumps(headers)}")
    env = dict(os.environ, CHROME_PATH=os.environ.get("CHROME_PATH", "/usr/bin/chromium"))
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0 or not Path(out).exists():
        raise RuntimeError(f"lighthouse {url} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return json.loads(Path(out).read_text(encoding="utf-8"))


def weigh(report):
    """Total bytes on the wire, and (path, resource type, transfer bytes, encoding) per request."""
    total = report["audits"]["total-byte-weight"]["numericValue"]
    requests = []
    for item in report["audits"]["network-requests"]["details"]["items"]:
        path = re.sub(r"^https?://[^/]+", "", item["url"])
        requests.append((path, item.get("resourceType", ""), int(item.get("transferSize", 0)),
                         int(item.get("resourceSize", 0)), item.get("statusCode")))
    return int(total), requests


def main():
    """Serve the demo, measure the four pages, print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lighthouse", default="/tmp/portal-lighthouse",
                        help="the folder lighthouse@12 was npm-installed into")
    parser.add_argument("--root", default=None, help="the checkout to serve (default: this one)")
    parser.add_argument("--label", default="this checkout")
    args = parser.parse_args()
    cli = Path(args.lighthouse) / "node_modules" / "lighthouse" / "cli" / "index.js"
    if not cli.exists():
        sys.exit(f"no Lighthouse at {cli}: npm install --prefix {args.lighthouse} lighthouse@12.2.3")
    if args.root:
        lib.ROOT = Path(args.root).resolve()
    lib.terminate_on_sigterm()
    rows = []
    with tempfile.TemporaryDirectory(prefix="page-weight-") as folder:
        workdir = Path(folder)
        with lib.temp_database("sqlite", "weight", workdir) as url:
            env = lib.app_environment(url, workdir)
            lib.prepare_demo(env)
            with lib.Gunicorn(env, workdir / "gunicorn.log") as server:
                client = lib.Client(server.port)
                cookie = client.sign_in(SELLER)
                _status, _headers, body = client.get("/refunds")
                request_page = re.findall(r'href="(/refunds/\d+)"', body.decode())[0]
                cookie = client.cookie_header()
                client.close()
                pages = [("/login", None), ("/deposit", cookie), ("/refunds/new", cookie), (request_page, cookie)]
                for path, page_cookie in pages:
                    report = lighthouse(cli, server.base + path, {"Cookie": page_cookie} if page_cookie else None,
                                        workdir / "report.json")
                    final = re.sub(r"^https?://[^/]+", "", report.get("finalDisplayedUrl", ""))
                    if final != path:
                        raise RuntimeError(f"{path} ended at {final}: not signed in?")
                    total, requests = weigh(report)
                    rows.append((path, total, requests))
    print(f"## Page weight, {args.label}: Lighthouse {report.get('lighthouseVersion')}, mobile, cold cache\n")
    print("| page | on the wire | goal ≤ 30 KB | requests (path: transferred / decoded bytes) |")
    print("|---|---:|---|---|")
    for path, total, requests in rows:
        parts = ", ".join(f"`{re.sub(r'[.][0-9a-f]{12}[.]', '.', p)}` {size:,}/{raw:,}"
                          for p, _kind, size, raw, _status in requests)
        verdict = "yes" if total <= GOAL_BYTES else "NO"
        print(f"| `{path}` | {total:,} B ({total / 1024:.1f} KB) | {verdict} | {parts} |")


if __name__ == "__main__":
    main()
