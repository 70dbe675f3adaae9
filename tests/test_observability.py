"""Operability: one JSON log line per request with its id, user, route, status and timing; /metrics for
allowed addresses only; the request id sent back as ``X-Request-Id``."""
import concurrent.futures
import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from portal.core.settings import from_environment
from portal.core.vocabulary import RefundState
from portal.refunds.models import RefundRequest
from portal.web.observability import CurrentStderrHandler, address_allowed, allowed_networks
from tests.conftest import make_app, release_connections
from tests.factories import Page, ready_seller, sign_in

ROOT = Path(__file__).resolve().parents[1]
OUTSIDER = {"REMOTE_ADDR": "203.0.113.9"}
GENERATED_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture(autouse=True)
def _single_process_metrics(monkeypatch):
    """Metrics of this process only, whatever the environment running the tests says."""
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)


def request_lines(captured):
    """The portal's request log lines in what a test wrote to stderr, parsed (each must be JSON)."""
    lines = [line for line in captured.err.splitlines() if '"portal.requests"' in line]
    return [json.loads(line) for line in lines]


def scrape(client, **kwargs):
    """GET /metrics from 127.0.0.1 and return {(name, labels as a sorted tuple): value}."""
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_a_request_writes_one_json_line_with_its_id_user_route_status_and_duration(client, app, capsys):
    """A signed-in seller's page: one JSON line naming the URL rule (not the raw path) and the user."""
    shop, user = ready_seller(username="seller-log")
    refund = RefundRequest.create(shop=shop, kind="SURPLUS", requested_fen=10_000, state=RefundState.UNDER_REVIEW,
                                  idempotency_key=uuid.uuid4().hex, created_by=user)
    sign_in(client, user)
    capsys.readouterr()
    response = client.get(f"/refunds/{refund.id}", headers={"X-Request-Id": "trace-42.a"})
    assert response.status_code == 200
    lines = [line for line in request_lines(capsys.readouterr()) if line["request_id"] == "trace-42.a"]
    assert len(lines) == 1
    line = lines[0]
    assert line["route"] == "/refunds/<int:request_id>"
    assert line["method"] == "GET"
    assert line["status"] == 200
    assert line["user_id"] == user.id
    assert isinstance(line["duration_ms"], float) and 0 <= line["duration_ms"] < 60_000
    assert line["level"] == "INFO" and line["time"].endswith("+00:00")


def test_an_anonymous_unknown_path_logs_no_user_and_one_route_label(client, app, capsys):
    """A 404 for a path no rule matches: user null, route '<unmatched>' (a scan cannot grow the labels)."""
    capsys.readouterr()
    assert client.get("/no/such/page/9f3").status_code == 404
    (line,) = request_lines(capsys.readouterr())
    assert line["user_id"] is None
    assert line["route"] == "<unmatched>"
    assert line["status"] == 404
    assert GENERATED_ID.fullmatch(line["request_id"])


def test_a_sane_request_id_is_echoed(client, app):
    """An id from a proxy or tracer comes back unchanged."""
    for sane in ("3f2c9d1e-8a4b-4c1d-9e2f-123456789abc", "Root=1-67891233-abcdef012345678912345678", "a"):
        assert client.get("/login", headers={"X-Request-Id": sane}).headers["X-Request-Id"] == sane


@pytest.mark.parametrize("bad", ["evil\x7fid", "two words", "x" * 129, "<script>", "", "a\tb", "中文"])
def test_a_bad_request_id_is_replaced(client, app, capsys, bad):
    """Control characters, spaces, markup or an overlong id are never echoed nor logged: a new id is."""
    capsys.readouterr()
    answered = client.get("/login", headers={"X-Request-Id": bad}).headers["X-Request-Id"]
    assert answered != bad
    assert GENERATED_ID.fullmatch(answered)
    (line,) = request_lines(capsys.readouterr())
    assert line["request_id"] == answered


def test_every_answer_carries_a_request_id(client, app):
    """Without an incoming id each answer (page, redirect, 404) gets a new, distinct one."""
    ids = [client.get(path).headers.get("X-Request-Id", "") for path in ("/login", "/", "/no-such-page")]
    assert all(GENERATED_ID.fullmatch(value) for value in ids)
    assert len(set(ids)) == 3


def test_metrics_count_a_route_just_called(client, app):
    """/metrics from 127.0.0.1: the counter and the latency histogram of /login each rise by one per call."""
    counter = ("portal_http_requests_total", (("method", "GET"), ("route", "/login"), ("status", "200")))
    latency = ("portal_http_request_duration_seconds_count", (("method", "GET"), ("route", "/login")))
    client.get("/login")
    before = scrape(client)
    assert client.get("/login").status_code == 200
    after = scrape(client)
    assert after[counter] == before[counter] + 1
    assert after[latency] == before[latency] + 1
    buckets = [key for key in after if key[0] == "portal_http_request_duration_seconds_bucket"
               and ("route", "/login") in key[1]]
    assert len(buckets) > 5  # a histogram, not a bare average


def test_metrics_from_another_address_are_the_404_page(client, app):
    """Anyone outside METRICS_ALLOWED sees the ordinary not-found page, and no metric."""
    client.get("/login")
    client.set_cookie("lang", "en")
    response = client.get("/metrics", environ_base=OUTSIDER)
    assert response.status_code == 404
    assert Page(response.text).find("h1").text == "Not found"
    assert "portal_http_requests_total" not in response.text


@pytest.fixture
def network_app(database_url, tmp_path):
    """The portal with /metrics open to 203.0.113.0/24 only (as a monitoring subnet would be)."""
    app = make_app(database_url, tmp_path, METRICS_ALLOWED="203.0.113.0/24, 2001:db8::/32")
    yield app
    release_connections()


def test_metrics_allowed_takes_networks(network_app):
    """METRICS_ALLOWED names networks: an address inside is served, 127.0.0.1 (now outside) is not."""
    client = network_app.test_client()
    assert client.get("/metrics", environ_base=OUTSIDER).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "2001:db8::7"}).status_code == 200
    assert client.get("/metrics").status_code == 404


def test_address_matching():
    """Addresses match their networks; IPv4 seen through a dual-stack socket counts as IPv4; junk never matches."""
    networks = allowed_networks("127.0.0.1/32,::1")
    assert address_allowed("127.0.0.1", networks)
    assert address_allowed("::1", networks)
    assert address_allowed("::ffff:127.0.0.1", networks)
    assert not address_allowed("127.0.0.2", networks)
    assert not address_allowed("203.0.113.9", networks)
    assert not address_allowed(None, networks)
    assert not address_allowed("not-an-address", networks)


def test_a_mistyped_metrics_allowed_stops_the_app(database_url, tmp_path):
    """A typo in METRICS_ALLOWED fails at start rather than silently opening or closing /metrics."""
    with pytest.raises(ValueError):
        make_app(database_url, tmp_path, METRICS_ALLOWED="127.0.0.1/33")


def test_metrics_settings_come_from_the_environment():
    """METRICS_ALLOWED and LOG_LEVEL are read from the environment."""
    found = from_environment({"METRICS_ALLOWED": "10.0.0.0/8", "LOG_LEVEL": "warning"})
    assert found == {"METRICS_ALLOWED": "10.0.0.0/8", "LOG_LEVEL": "warning"}


def test_a_server_error_is_logged_and_counted_as_500(app, capsys):
    """A view that fails: the 500 page carries the request id, its line says 500, and the counter has it."""
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer as production does, not raise into the test

    def broken():
        """A view with a bug."""
        raise RuntimeError("a bug")

    app.add_url_rule("/broken-for-test", "broken_for_test", broken)
    client = app.test_client()
    key = ("portal_http_requests_total", (("method", "GET"), ("route", "/broken-for-test"), ("status", "500")))
    before = scrape(client).get(key, 0)
    capsys.readouterr()
    response = client.get("/broken-for-test", headers={"X-Request-Id": "bug-1"})
    assert response.status_code == 500
    assert response.headers["X-Request-Id"] == "bug-1"
    logged = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    (line,) = [entry for entry in logged if entry["logger"] == "portal.requests"]
    assert (line["request_id"], line["route"], line["status"]) == ("bug-1", "/broken-for-test", 500)
    # Flask's own "Exception on ..." line, with the traceback, is JSON and names the same request.
    assert any(entry["level"] == "ERROR" and entry.get("request_id") == "bug-1" and "RuntimeError" in entry["exc_info"]
               for entry in logged)
    assert scrape(client)[key] == before + 1


def test_request_lines_are_not_printed_twice(app):
    """The portal's logger has its own JSON handler and does not hand lines on to the root logger too."""
    logger = logging.getLogger("portal")
    assert logger.propagate is False
    assert sum(isinstance(handler, CurrentStderrHandler) for handler in logger.handlers) == 1


def answered_by(log_path):
    """The worker pids whose JSON request lines in ``log_path`` answered GET /login."""
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    return {line["pid"] for line in lines if line["logger"] == "portal.requests" and line["route"] == "/login"}


def test_gunicorn_workers_are_summed_in_multiprocess_mode(tmp_path):
    """gunicorn.conf.py with PROMETHEUS_MULTIPROC_DIR and two workers: one scrape counts every worker's requests,
    and gunicorn's own error log is JSON."""
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_999999.db").write_bytes(b"stale")  # a previous run's file: emptied at start
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "1",
           "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.sqlite3'}",
           "SECRET_KEY": "test-" + uuid.uuid4().hex, "UPLOAD_DIR": str(tmp_path / "uploads"), "ACCESS_LOG": ""}
    errors = tmp_path / "stderr.log"
    base = f"http://127.0.0.1:{port}"
    with open(errors, "wb") as stderr:
        server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT,
                                  env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(base + "/healthz/live", timeout=2).read()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, errors.read_text()
                time.sleep(0.1)
        # Batches of parallel requests until both single-threaded workers have answered some.
        statuses = []
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            while len(answered_by(errors)) < 2 and len(statuses) < 400:
                statuses += pool.map(lambda _: urllib.request.urlopen(base + "/login", timeout=10).status, range(16))
        assert statuses == [200] * len(statuses)
        assert not (metrics_dir / "counter_999999.db").exists()
        body = urllib.request.urlopen(base + "/metrics", timeout=10).read().decode()
    finally:
        server.terminate()
        server.wait(timeout=30)
    totals = {(sample.labels["route"], sample.labels["status"]): sample.value
              for family in text_string_to_metric_families(body) for sample in family.samples
              if sample.name == "portal_http_requests_total" and sample.labels["method"] == "GET"}
    assert len(answered_by(errors)) == 2  # both workers served /login ...
    assert totals[("/login", "200")] == len(statuses)  # ... and the one scrape counted them all
    logged = [json.loads(line) for line in errors.read_text().splitlines() if line.startswith("{")]
    assert any(line["logger"] == "gunicorn.error" and line["message"].startswith("Booting worker") for line in logged)
