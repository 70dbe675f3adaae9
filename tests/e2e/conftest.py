"""Browser tests: the portal served by gunicorn in a child process, driven by Debian's Chromium.

The live server runs in its own process (one per xdist worker) on a SQLite file of its own, with
CSRF on, exactly as in production. Nothing here calls ``create_app`` in the test process: the
module-level ``portal.core.db.db`` proxy is rebound by every ``create_app``, and the non-browser tests
sharing this worker do exactly that. To change the server's data while a browser watches, use
``portal_db``, which runs Python in a child process against the same database.

Helpers come as fixtures (``login``, ``assert_accessible``, ``assert_no_horizontal_scroll``,
``screenshot``), so any test file in this folder can use them without importing a conftest.
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.e2e import browser

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SCREENSHOTS = ROOT / "docs" / "screenshots"
IN_CI = os.environ.get("CI", "").lower() == "true"

CHROMIUM = browser.CHROMIUM
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PHONE = "iPhone 12"  # its viewport and touch, rendered by Chromium rather than WebKit
NARROW_WIDTH = 360  # the narrowest phone the portal promises to fit without sideways scrolling
PASSWORD = "demo-pass-2026"  # every demo account's (portal/demo.py)
SERVER_START_SECONDS = 30
# axe impacts that fail a test; "minor" and "moderate" findings are left to review.
FAILING_IMPACTS = ("serious", "critical")


def pytest_collection_modifyitems(config, items):
    """Mark every test under tests/e2e as ``e2e`` (deselect them with ``-m 'not e2e'``)."""
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.e2e)


# --- The live server ------------------------------------------------------------------------


def _free_port():
    """A TCP port nobody listens on right now (the server may still lose a race for it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _flask(env, *arguments):
    """Run one ``flask --app portal`` command against the live server's database."""
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "portal", *arguments], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        pytest.fail(f"flask {' '.join(arguments)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout


def _healthy(url):
    """True when ``/healthz`` answers 200."""
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


class LiveServer:
    """The portal under gunicorn in a child process; ``url`` is where it answers."""

    def __init__(self, env, log_path):
        self.env = env
        self.log_path = log_path
        self.process = None
        self.url = None

    @property
    def database_url(self):
        """The server's database, for anything else that must look at the same data."""
        return self.env["DATABASE_URL"]

    def log_tail(self, lines=40):
        """The last lines gunicorn wrote: access log and errors."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def start(self, attempts=3):
        """Start gunicorn on a free port and wait until ``/healthz`` answers."""
        for _attempt in range(attempts):
            port = _free_port()
            env = {**self.env, "BIND": f"127.0.0.1:{port}"}
            with open(self.log_path, "ab") as log:
                # gunicorn.conf.py is the production configuration; only its size is scaled down.
                self.process = subprocess.Popen(
                    [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT,
                    env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + SERVER_START_SECONDS
            while time.monotonic() < deadline and self.process.poll() is None:
                if _healthy(url):
                    self.url = url
                    return url
                time.sleep(0.1)
            self.stop()
            # Another process took the port between the probe and the bind: try another one.
            if "Address already in use" not in self.log_tail():
                break
        pytest.fail(f"the live server did not answer /healthz within {SERVER_START_SECONDS} s:\n"
                    + self.log_tail())

    def stop(self):
        """Stop gunicorn gracefully (SIGTERM), and for good if it does not go."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def start_portal(folder, **settings):
    """Serve the portal with demo data from its own SQLite file under ``folder``, by gunicorn, CSRF on.

    ``settings`` are extra environment settings (e.g. short poll intervals); the caller stops the
    server it gets back.
    """
    env = {key: value for key, value in os.environ.items()
           # Settings a developer's shell may carry that would point the server elsewhere.
           if key not in ("DATABASE_URL", "SECRET_KEY", "UPLOAD_DIR", "PROXY_HOPS", "SESSION_COOKIE_SECURE",
                          "FLASK_APP", "BIND", *settings)}
    env.update({
        "DATABASE_URL": f"sqlite:///{folder / 'e2e.sqlite3'}",
        "SECRET_KEY": "e2e-" + uuid.uuid4().hex,
        "UPLOAD_DIR": str(folder / "uploads"),
        "WEB_CONCURRENCY": "2",  # two processes: nothing may rely on one process's memory
        "GUNICORN_THREADS": "4",
        "PYTHONUNBUFFERED": "1",
        **{key: str(value) for key, value in settings.items()},
    })
    _flask(env, "init-db")
    _flask(env, "demo")
    server = LiveServer(env, folder / "gunicorn.log")
    server.start()
    return server


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """The portal with demo data on its own SQLite file, served by gunicorn; CSRF on."""
    server = start_portal(tmp_path_factory.mktemp("e2e"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def base_url(live_server):
    """pytest-playwright's base URL: ``page.goto("/deposit")`` goes to the live server."""
    return live_server.url


# --- Changing the server's data from a test ------------------------------------------------

_RESULT_MARK = "@@portal_db result@@"

# Runs in the child: the app on the live server's DATABASE_URL, then the test's code, whose
# ``result`` variable comes back as JSON.
_CHILD = f"""
import json, sys, time
job = json.load(sys.stdin)
from portal import create_app
from portal.core.db import db
app = create_app()
time.sleep(job["delay"])
scope = {{"app": app, "db": db, "params": job["params"], "result": None}}
with app.app_context(), db.connection_context():
    exec(compile(job["code"], "<portal_db>", "exec"), scope)
sys.stdout.write("\\n{_RESULT_MARK}" + json.dumps(scope["result"], default=str))
"""


def _result_of(code, returncode, stdout, stderr):
    """The ``result`` a child run left, or a failure showing the code and its traceback."""
    if returncode != 0 or _RESULT_MARK not in stdout:
        raise AssertionError(f"portal_db code failed ({returncode}):\n{code}\n{stdout}{stderr}")
    return json.loads(stdout.rsplit(_RESULT_MARK, 1)[1])


class Background:
    """Code running in the portal in a child process; ``wait()`` gives its ``result``."""

    def __init__(self, process, code):
        self.process = process
        self.code = code

    def wait(self, timeout=60):
        """Wait for the child to finish and return its ``result``."""
        stdout, stderr = self.process.communicate(timeout=timeout)
        return _result_of(self.code, self.process.returncode, stdout, stderr)


class PortalDatabase:
    """Python run inside the portal against the live server's database, in a child process.

    The code sees ``app``, ``db``, ``params`` (the keyword arguments, through JSON) and sets
    ``result`` (anything JSON can carry) to hand a value back. It runs inside an app context and
    an open connection; wrap writes in ``refund_service.transition`` or ``write_transaction()``.
    """

    def __init__(self, env):
        self.env = env

    def _spawn(self, code, delay, params):
        """Start the child with its job on stdin."""
        process = subprocess.Popen([sys.executable, "-c", _CHILD], cwd=ROOT, env=self.env, text=True,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        process.stdin.write(json.dumps({"code": code, "delay": delay, "params": params}))
        process.stdin.close()
        process.stdin = None  # communicate() must not flush a closed pipe
        return process

    def run(self, code, **params):
        """Run ``code`` now and return its ``result``."""
        code = textwrap.dedent(code)
        return Background(self._spawn(code, 0, params), code).wait()

    def start(self, code, delay=0.0, **params):
        """Run ``code`` in the background, ``delay`` seconds from now, while the browser goes on."""
        code = textwrap.dedent(code)
        return Background(self._spawn(code, delay, params), code)

    def withdraw_open_requests(self, username):
        """Cancel, as the seller would, every open request of ``username``'s shop; returns their ids.

        Tests that apply for a refund start from here, so the refundable figure is the demo's again
        whichever test ran before on this worker's server.
        """
        return self.run("""
            from portal.refunds import service as refund_service
            from portal.core.vocabulary import OPEN_STATES, Actor, RefundState
            from portal.refunds.models import RefundRequest
            from portal.accounts.models import User

            seller = User.get(User.username == params["username"])
            open_requests = list(RefundRequest.select().where(
                (RefundRequest.shop == seller.shop_id) & RefundRequest.state.in_(OPEN_STATES)))
            for refund in open_requests:
                refund_service.transition(refund.id, RefundState.CANCELLED, seller, Actor.SELLER)
            result = [refund.id for refund in open_requests]
        """, username=username)


@pytest.fixture(scope="session")
def portal_db(live_server):
    """Run Python against the live server's database without touching this process's ``db`` proxy."""
    return PortalDatabase(live_server.env)


# --- The browser ----------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def chromium_installed():
    """Debian's Chromium, installed here if we are root with apt-get; else skip, or fail under CI."""
    reason = browser.ensure_installed()
    if reason:
        if IN_CI:
            pytest.fail(f"{reason} (CI=true: browser tests must run)")
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args, chromium_installed):
    """Launch Debian's Chromium (``playwright install`` cannot download its own here)."""
    return {**browser_type_launch_args, "executable_path": chromium_installed, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args, playwright, device):
    """A phone (iPhone 12 size and touch, or ``--device``), in Chinese, on Beijing time."""
    phone = dict(playwright.devices[device or PHONE])
    phone.pop("default_browser_type", None)  # the engine is Chromium whatever the device
    return {**browser_context_args, **phone, "locale": "zh-CN", "timezone_id": "Asia/Shanghai"}


@pytest.fixture
def page(page):
    """pytest-playwright's page, failing the test on a script error or a CSP violation."""
    problems = []

    def _console(message):
        source = message.location.get("url", "")
        # The browser asks for /favicon.ico on its own; the portal has none, which is not an error.
        if message.type == "error" and not source.endswith("/favicon.ico"):
            problems.append(f"console: {message.text} ({source})")

    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on("console", _console)
    yield page
    assert not problems, "the browser reported errors:\n" + "\n".join(problems)


# --- Helpers ----------------------------------------------------------------------------------


def sign_in(page, username, password=PASSWORD):
    """Sign in through the real /login form and wait until the portal let us in."""
    from playwright.sync_api import expect

    page.goto("/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill(password)
    page.locator("form[action$='/login'] button[type=submit]").click()
    # A refused sign-in re-renders the form on /login; a good one leaves it.
    expect(page.locator("#password")).to_have_count(0)


@pytest.fixture
def login():
    """``login(page, username)``: sign in through the form (password: the demo's)."""
    return sign_in


# Lists what sticks out to the right of the page, so a failure says which element to fix.
_OVERFLOW_SCRIPT = """() => {
  const root = document.documentElement;
  const limit = root.clientWidth;
  const wide = [];
  for (const element of document.body.querySelectorAll("*")) {
    const box = element.getBoundingClientRect();
    if (box.width > 0 && box.right > limit + 0.5) {
      const name = element.tagName.toLowerCase() + (element.id ? "#" + element.id : "")
        + (element.classList.length ? "." + [...element.classList].join(".") : "");
      wide.push(name + " right=" + Math.round(box.right));
    }
  }
  return {scrollWidth: root.scrollWidth, clientWidth: limit, wide: wide.slice(0, 10)};
}"""


def no_horizontal_scroll(page, width=NARROW_WIDTH):
    """Assert the page fits ``width`` CSS pixels with no sideways scrolling, then restore the viewport."""
    original = page.viewport_size
    page.set_viewport_size({"width": width, "height": original["height"]})
    try:
        # Two animation frames: the relayout at the new width has happened by then.
        page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
        found = page.evaluate(_OVERFLOW_SCRIPT)
    finally:
        page.set_viewport_size(original)
    assert found["clientWidth"] == width, f"the layout viewport is {found['clientWidth']} px, not {width}"
    assert found["scrollWidth"] <= found["clientWidth"], (
        f"{page.url} scrolls sideways at {width} px: content is {found['scrollWidth']} px wide. "
        f"Elements past the right edge: {', '.join(found['wide']) or 'none found'}")


@pytest.fixture
def assert_no_horizontal_scroll():
    """``assert_no_horizontal_scroll(page)``: the page fits a 360 px phone."""
    return no_horizontal_scroll


def _axe():
    """The axe-core runner bundled with axe-playwright-python."""
    from axe_playwright_python.sync_playwright import Axe

    return Axe()


def _describe_violations(violations):
    """axe findings as readable lines: rule, impact, help, and each offending element."""
    lines = []
    for violation in violations:
        lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']}")
        lines.append(f"  {violation['helpUrl']}")
        for node in violation["nodes"]:
            summary = " ".join(node.get("failureSummary", "").split())
            lines.append(f"    * {' '.join(map(str, node['target']))}: {summary}")
            lines.append(f"      {node['html'][:200]}")
    return "\n".join(lines)


def accessible(page):
    """Run axe-core on the page; fail on any serious or critical violation. Returns axe's results."""
    page.wait_for_load_state("load")
    # Playwright's evaluate is not subject to the page's CSP, so axe runs under the real policy.
    results = _axe().run(page).response
    # An axe that never ran would "find nothing": make sure it checked something.
    assert results.get("testEngine", {}).get("name") == "axe-core", "axe-core did not run"
    assert results.get("passes"), "axe-core ran no checks at all"
    failing = [violation for violation in results["violations"] if violation["impact"] in FAILING_IMPACTS]
    if failing:
        raise AssertionError(f"axe found {len(failing)} serious/critical violation(s) on {page.url}:\n"
                             + _describe_violations(failing))
    return results


@pytest.fixture
def assert_accessible():
    """``assert_accessible(page)``: axe-core finds nothing serious or critical."""
    return accessible


def save_screenshot(page, name):
    """Save a full-page phone screenshot as docs/screenshots/<name>.png (the README shows these)."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name):
        raise ValueError(f"screenshot names are lowercase words and dashes, not {name!r}")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    # scale="css": one image pixel per CSS pixel, so a 390 px phone gives a 390 px wide, small PNG.
    page.screenshot(path=str(path), full_page=True, scale="css", animations="disabled", caret="hide")
    return path


@pytest.fixture
def screenshot():
    """``screenshot(page, name)``: save docs/screenshots/<name>.png."""
    return save_screenshot
