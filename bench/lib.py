"""What the benchmarks share: throwaway databases, gunicorn on a free port, signing in, wrk, results.

Everything here talks to 127.0.0.1 only, and every resource it makes (a gunicorn process group, a
temporary directory, a PostgreSQL database) is removed again by the context manager that made it,
also when the benchmark fails half-way or is interrupted.
"""
import contextlib
import datetime
import gzip
import html
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from http.client import HTTPConnection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
VENV_BIN = ROOT / ".venv" / "bin"
WRK_SCRIPT = BENCH / "wrk_report.lua"
HOST = "127.0.0.1"
# The PostgreSQL server the throwaway databases are created on (its own database is only used to
# run CREATE/DROP DATABASE).
ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
PASSWORD = "demo-pass-2026"
# Variables that would change gunicorn.conf.py's production settings; removed from the environment
# the server inherits so the benchmark always measures the configuration as shipped.
SERVER_OVERRIDES = ("BIND", "WEB_CONCURRENCY", "GUNICORN_THREADS", "GUNICORN_TIMEOUT", "ACCESS_LOG",
                    "LOG_LEVEL", "FORWARDED_ALLOW_IPS")
APP_SETTINGS = ("DATABASE_URL", "SECRET_KEY", "UPLOAD_DIR", "PROXY_HOPS")


def terminate_on_sigterm():
    """Make SIGTERM (and SIGHUP) unwind like Ctrl-C, so every ``finally`` cleans up."""
    def _raise(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, _raise)
    signal.signal(signal.SIGHUP, _raise)


# --- databases ---------------------------------------------------------------------------------

def _admin_connection():
    import psycopg2

    connection = psycopg2.connect(ADMIN_URL)
    connection.autocommit = True
    return connection


def postgres_url(name):
    """The URL of database ``name`` on the benchmark's PostgreSQL server."""
    parts = urllib.parse.urlsplit(ADMIN_URL)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/" + name, "", ""))


@contextlib.contextmanager
def temp_database(kind, label, workdir):
    """A fresh, empty database of ``kind`` ('sqlite' or 'postgresql'); yields its URL, drops it after."""
    if kind == "sqlite":
        path = Path(workdir) / f"{label}.sqlite3"
        try:
            yield f"sqlite:///{path}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(f"{path}{suffix}")
        return
    if kind not in ("postgresql", "postgresql+pool"):
        raise ValueError(kind)
    name = f"bench_{label}_{os.getpid()}"
    with contextlib.closing(_admin_connection()) as admin, admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        url = postgres_url(name)
        # postgresql+pool:// is peewee's pooled PostgreSQL (playhouse.db_url): same server, kept connections.
        yield url.replace("postgresql://", kind + "://", 1)
    finally:
        with contextlib.closing(_admin_connection()) as admin, admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def app_environment(database_url, workdir):
    """The environment the app (CLI and server) runs with: our database, key and upload folder."""
    env = {key: value for key, value in os.environ.items()
           if key not in SERVER_OVERRIDES and key not in APP_SETTINGS}
    env.update(DATABASE_URL=database_url, SECRET_KEY="bench-" + os.urandom(16).hex(),
               UPLOAD_DIR=str(Path(workdir) / "uploads"), PYTHONDONTWRITEBYTECODE="1")
    return env


def flask(env, *args, timeout=600):
    """Run ``flask --app portal ARGS`` with ``env``; returns its output, raises with it on failure."""
    done = subprocess.run([str(VENV_BIN / "flask"), "--app", "portal", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout.strip()


def prepare_demo(env):
    """``init-db`` and ``demo`` on the database in ``env``."""
    flask(env, "init-db")
    flask(env, "demo")


# --- the server --------------------------------------------------------------------------------

def free_port():
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def _group_members(pgid):
    """Pids of live processes in process group ``pgid``."""
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == pgid and fields[0] != "Z":
                    members.append(int(entry))
    return members


class Gunicorn:
    """gunicorn as ``gunicorn.conf.py`` configures it for production, on a free local port.

    Started in a session (process group) of its own, so stopping it kills the master and every
    worker, whatever state they are in. ``--no-control-socket`` only keeps gunicorn from taking over
    the shared control socket under ~/.gunicorn (which another gunicorn on this machine may use); it
    changes nothing about serving.
    """

    def __init__(self, env, log_path):
        self.port = free_port()
        self.env = dict(env, BIND=f"{HOST}:{self.port}")
        self.log_path = Path(log_path)
        self.process = None

    @property
    def base(self):
        return f"http://{HOST}:{self.port}"

    def __enter__(self):
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [str(VENV_BIN / "gunicorn"), "--chdir", str(ROOT), "-c", str(ROOT / "gunicorn.conf.py"),
             "--no-control-socket", "wsgi:app"],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()

    def _wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.process.returncode}):\n{self.log_tail()}")
            with contextlib.suppress(OSError):
                connection = HTTPConnection(HOST, self.port, timeout=5)
                connection.request("GET", "/healthz")
                response = connection.getresponse()
                response.read()
                connection.close()
                if response.status == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer /healthz within {timeout} s:\n{self.log_tail()}")

    def stop(self):
        """Quick shutdown (SIGINT) of the whole process group; SIGKILL if it lingers."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
        # Workers (same group) may outlive the master for a moment; make sure none is left. The group
        # id cannot be reused while any member is alive, so this only ever reaches our own processes.
        for _ in range(2):
            if self.process.poll() is None or _group_members(self.process.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=5)
        self.process = None
        self.log.close()

    def log_text(self):
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines=40):
        return "\n".join(self.log_text().splitlines()[-lines:])

    def cpu_seconds(self):
        """CPU (user + system) the server has used so far: the master, its live workers, and the
        workers it has already replaced (whose time the kernel adds to the master's children time).

        It moves much less with other load on the machine than wall-clock figures do.
        """
        tick = os.sysconf("SC_CLK_TCK")
        master = self.process.pid
        total = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            pid, parent = int(entry), int(fields[1])
            utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
            if pid == master:
                total += utime + stime + cutime + cstime
            elif parent == master:
                total += utime + stime
        return total / tick

    def worker_boots(self):
        """How many worker processes were started so far (the first ones and every replacement)."""
        return self.log_text().count("Booting worker")

    def settings(self):
        """Workers and threads as the production configuration resolves them on this machine."""
        namespace = {}
        code = (ROOT / "gunicorn.conf.py").read_text()
        env_backup = dict(os.environ)
        try:
            os.environ.clear()
            os.environ.update(self.env)
            exec(compile(code, "gunicorn.conf.py", "exec"), namespace)  # noqa: S102 (our own config file)
        finally:
            os.environ.clear()
            os.environ.update(env_backup)
        return {key: namespace.get(key) for key in ("workers", "threads", "worker_class", "keepalive",
                                                   "max_requests", "max_requests_jitter", "accesslog")}


def app_boot_cpu(env, repeat=3):
    """CPU seconds (user + system) one process spends importing ``wsgi`` (what every new gunicorn
    worker does, since the configuration does not preload the app); the median of ``repeat``."""
    import resource

    def cpu(code):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([str(VENV_BIN / "python"), "-c", code], cwd=ROOT, env=env, check=True,
                       capture_output=True, timeout=120)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

    # Less the bare interpreter's start, which a forked worker does not pay.
    return statistics.median(cpu("import wsgi") - cpu("pass") for _ in range(repeat))


# --- HTTP --------------------------------------------------------------------------------------

class Client:
    """A tiny keep-alive HTTP client with a cookie jar, for signing in and fetching pages."""

    def __init__(self, port):
        self.port = port
        self.cookies = {}
        self.connection = HTTPConnection(HOST, port, timeout=30)

    def close(self):
        self.connection.close()

    def cookie_header(self):
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())

    def request(self, method, path, body=None, headers=None):
        """(status, headers, body bytes); remembers cookies set by the answer."""
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = self.cookie_header()
        for attempt in range(2):
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                data = response.read()
                break
            except (ConnectionError, OSError):
                # The server closed the kept-alive connection (keep-alive timeout, worker recycled).
                self.connection.close()
                self.connection = HTTPConnection(HOST, self.port, timeout=30)
                if attempt:
                    raise
        for value in response.headers.get_all("Set-Cookie") or ():
            name, _, rest = value.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response.status, response.headers, data

    def get(self, path, headers=None):
        return self.request("GET", path, headers=headers)

    def sign_in(self, username, password=PASSWORD):
        """Sign in through the real form (CSRF token from the page); returns the Cookie header."""
        status, _headers, body = self.get("/login")
        if status != 200:
            raise RuntimeError(f"GET /login answered {status}")
        token = csrf_token(body.decode())
        form = urllib.parse.urlencode({"username": username, "password": password, "csrf_token": token})
        status, headers, _body = self.request(
            "POST", "/login", body=form,
            headers={"Content-Type": "application/x-www-form-urlencoded", "Referer": f"http://{HOST}:{self.port}/login"})
        location = headers.get("Location", "")
        if status not in (302, 303) or "/login" in location:
            raise RuntimeError(f"signing in as {username} failed: {status} {location}")
        return self.cookie_header()


def csrf_token(page):
    """The CSRF token of the first form on a page."""
    match = (re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
             or re.search(r'value="([^"]+)"[^>]*name="csrf_token"', page))
    if not match:
        raise RuntimeError("no csrf_token field on the page")
    return html.unescape(match.group(1))


def raw_exchange(port, path, headers=None):
    """One request on a fresh socket; the exact bytes both ways, split into head and body.

    Returns a dict: request_bytes, status, head_bytes (status line and headers, with the blank
    line), body_bytes, total_bytes, headers (list of (name, value)).
    """
    lines = [f"GET {path} HTTP/1.1", f"Host: {HOST}:{port}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    lines += ["Connection: close", "", ""]
    request = "\r\n".join(lines).encode()
    with socket.create_connection((HOST, port), timeout=30) as sock:
        sock.sendall(request)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    data = b"".join(chunks)
    head, _sep, body = data.partition(b"\r\n\r\n")
    head_lines = head.decode("latin-1").split("\r\n")
    status = int(head_lines[0].split()[1])
    parsed = [tuple(part.strip() for part in line.split(":", 1)) for line in head_lines[1:]]
    return {"request_bytes": len(request), "status": status, "head_bytes": len(head) + 4,
            "body_bytes": len(body), "total_bytes": len(data), "headers": parsed}


def gzip_size(data):
    """Bytes after ``gzip -9``: what a compressing proxy would send."""
    return len(gzip.compress(data, compresslevel=9, mtime=0))


# --- wrk ---------------------------------------------------------------------------------------

def wrk_version():
    done = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    return (done.stdout + done.stderr).splitlines()[0].split(" Copyright")[0].strip()


def wrk(url, *, duration=5, connections=16, threads=2, headers=None, timeout="5s"):
    """Run wrk against ``url``; returns its figures (latencies in ms, errors split by kind)."""
    if not url.startswith(f"http://{HOST}:"):
        raise ValueError("benchmarks only talk to 127.0.0.1")
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", f"--timeout={timeout}",
               "--latency", "-s", str(WRK_SCRIPT)]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    command.append(url)
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr}{done.stdout}")
    match = re.search(r"^BENCH_RESULT (.*)$", done.stdout, re.MULTILINE)
    if not match:
        raise RuntimeError(f"wrk printed no result:\n{done.stdout}\n{done.stderr}")
    raw = {key: float(value) for key, value in (pair.split("=") for pair in match.group(1).split())}
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    result = {
        "requests": int(raw["requests"]),
        "seconds": raw["duration_us"] / 1e6,
        "rps": raw["requests"] / (raw["duration_us"] / 1e6),
        "bytes_per_response": raw["bytes"] / raw["requests"] if raw["requests"] else 0.0,
        "non2xx3xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": {kind: int(raw[kind]) for kind in ("connect", "read", "write", "timeout")},
        "status_errors": int(raw["status"]),
        "output": done.stdout,
    }
    for key in ("mean", "max", "p50", "p75", "p90", "p95", "p99"):
        result[key + "_ms"] = raw[key] / 1000.0
    result["errors"] = result["status_errors"] + sum(result["socket_errors"].values())
    return result


# --- timing a few requests one after another ----------------------------------------------------

def sequential_timings(port, path, headers, count):
    """Latencies (ms) of ``count`` requests sent one after another on a kept-alive connection."""
    client = Client(port)
    timings, statuses = [], {}
    try:
        for _ in range(count):
            started = time.perf_counter()
            status, _headers, _body = client.request("GET", path, headers=headers)
            timings.append((time.perf_counter() - started) * 1000.0)
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        client.close()
    return timings, statuses


def percentile(values, fraction):
    """Nearest-rank percentile (``fraction`` in 0..1) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, int(round(fraction * len(ordered) + 0.4999)))
    return ordered[min(rank, len(ordered)) - 1]


def median(values):
    return statistics.median(values)


# --- reporting ---------------------------------------------------------------------------------

def load_average():
    with contextlib.suppress(OSError):
        return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    return "?"


def machine_description():
    """What ran the benchmark, as Markdown bullet lines."""
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "?"
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
        memory = f"{kb / 1024 / 1024:.1f} GiB"
    commit = "?"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10).stdout.strip() or "?"
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        if dirty:
            commit += " (with uncommitted changes)"
    postgres = "?"
    with contextlib.suppress(Exception), contextlib.closing(_admin_connection()) as admin, admin.cursor() as cur:
        cur.execute("SHOW server_version")
        postgres = cur.fetchone()[0]
    return [
        f"- Machine: {os.cpu_count()} cores ({cpu}), {memory} RAM, {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}, PostgreSQL {postgres}, {wrk_version()}",
        f"- Code: {commit}",
        "- wrk and gunicorn run on the same cores (and so does PostgreSQL), so absolute figures are low; "
        "compare within one run",
    ]


def table(headers, rows):
    """A Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def write_results(name, markdown):
    """Print the report and keep it as ``bench/results/<name>-<date>.md``; returns the path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}-{datetime.date.today().isoformat()}.md"
    path.write_text(markdown + "\n", encoding="utf-8")
    print(markdown)
    print(f"\n(written to {path.relative_to(ROOT)})")
    return path


@contextlib.contextmanager
def workdir(prefix):
    """A temporary directory, removed afterwards."""
    path = tempfile.mkdtemp(prefix=prefix)
    try:
        yield Path(path)
    finally:
        shutil.rmtree(path, ignore_errors=True)


def check_tools():
    """wrk must be installed (``apt-get install -y wrk``)."""
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")


def ms(value):
    return f"{value:.1f}"
