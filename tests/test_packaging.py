"""The wheel: it carries the templates, static files and translations, and serves pages once installed.

The source tree keeps ``templates/`` and ``static/`` at the top level; pyproject.toml maps them into
the package as ``portal/templates`` and ``portal/static``. These tests build the wheel from a copy
of the tree, look inside it, then install it non-editable into a fresh venv and, from a folder that
is not the checkout, run ``init-db`` and ``demo`` and serve the portal with gunicorn.

The fresh venv borrows the test venv's installed dependencies through a ``.pth`` file (installing
them all again from the registry would take minutes); the portal itself comes only from the wheel,
which the tests check through ``portal.__file__``. They never skip: under CI they always run.
"""
import gettext
import http.cookiejar
import os
import re
import secrets
import shutil
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.parse
import urllib.request
import venv
import zipfile
from pathlib import Path

import pytest

from portal.ops import demo

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parent.parent
# What a build never needs, and what a developer's tree holds plenty of.
NOT_BUILT_FROM = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "*.pyc",
                                        "instance", "docs", "bench", "tests", "test-results", ".hypothesis",
                                        ".pytest_cache")
SERVER_START_SECONDS = 30


def _files_under(folder, pattern="*"):
    """The files under ``folder`` matching ``pattern``, as POSIX paths relative to it."""
    return {path.relative_to(folder).as_posix() for path in folder.rglob(pattern)
            if path.is_file() and "__pycache__" not in path.parts}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The portal's wheel, built by pip from a copy of the working tree (so no build/ is left in it)."""
    source = tmp_path_factory.mktemp("source") / "portal-src"
    shutil.copytree(ROOT, source, ignore=NOT_BUILT_FROM)
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"pip wheel failed:\n{done.stdout}{done.stderr}"
    (built,) = out.glob("*.whl")
    return built


def test_the_wheel_carries_every_template_static_file_translation_and_module(wheel):
    """Every file of templates/, static/, every .py of portal/ and the compiled catalogue are in the wheel."""
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    for expected in ("portal/templates/base.html", "portal/templates/auth/login.html",
                     "portal/static/vendor/htmx-2.0.11.min.js", "portal/static/css/portal.css",
                     "portal/static/favicon.svg", "portal/translations/zh_Hans_CN/LC_MESSAGES/messages.mo",
                     "portal/migrations/0001_initial.py"):
        assert expected in names
    missing_templates = {f"portal/templates/{name}" for name in _files_under(ROOT / "templates")} - names
    missing_static = {f"portal/static/{name}" for name in _files_under(ROOT / "static")} - names
    # Every subpackage is found without a list to keep up to date.
    missing_modules = {f"portal/{name}" for name in _files_under(ROOT / "portal", "*.py")} - names
    missing_catalogues = {f"portal/{name}" for name in _files_under(ROOT / "portal", "*.mo")} - names
    assert not (missing_templates | missing_static | missing_modules | missing_catalogues)
    # The top-level folders go into the package only, never beside it in site-packages.
    top_level = {name.split("/", 1)[0] for name in names}
    assert "portal" in top_level and all(name.endswith(".dist-info") for name in top_level - {"portal"})


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    """A fresh venv with the wheel installed non-editable; the dependencies come from the test venv."""
    home = tmp_path_factory.mktemp("venv")
    target = home / "venv"
    venv.create(target, with_pip=False, symlinks=os.name != "nt")
    python = target / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    asked = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                           capture_output=True, text=True, check=True)
    site_packages = Path(asked.stdout.strip())
    # A plain path line: the test venv's own .pth files (among them the editable portal's finder)
    # are not run for it, so `import portal` can only find the wheel's copy.
    borrowed = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (site_packages / "borrowed_dependencies.pth").write_text("\n".join(borrowed) + "\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q",
                           str(wheel)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"pip install failed:\n{done.stdout}{done.stderr}"
    workdir = home / "elsewhere"
    workdir.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "FLASK_", "VIRTUAL_ENV"))}
    env.update(DATABASE_URL=f"sqlite:///{home / 'portal.sqlite3'}", SECRET_KEY=secrets.token_hex(32),
               UPLOAD_DIR=str(home / "uploads"), PYTHONDONTWRITEBYTECODE="1")
    return python, workdir, env, site_packages


def _run(installed, *arguments):
    """Run the venv's Python with ``arguments`` in the other folder; its output, or a failure."""
    python, workdir, env, _ = installed
    done = subprocess.run([str(python), *arguments], cwd=workdir, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, f"{' '.join(arguments)} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def served(installed):
    """The installed portal after init-db and demo, served by gunicorn on a free port: its base URL."""
    python, workdir, env, _ = installed
    _run(installed, "-m", "flask", "--app", "portal", "init-db")
    _run(installed, "-m", "flask", "--app", "portal", "demo")
    log = workdir / "gunicorn.log"
    # Port 0: the kernel picks a free port, and gunicorn's log says which.
    server = subprocess.Popen([str(python), "-m", "gunicorn", "--bind", "127.0.0.1:0", "--workers", "1",
                               "--error-logfile", str(log), "portal:create_app()"],
                              cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        listening = None
        while not listening and time.monotonic() < deadline and server.poll() is None:
            time.sleep(0.1)
            listening = re.search(r"Listening at: (http://127\.0\.0\.1:\d+)", log.read_text() if log.exists() else "")
        assert listening, f"gunicorn did not start:\n{log.read_text() if log.exists() else ''}"
        url = listening.group(1)
        while not _healthy(url) and time.monotonic() < deadline:
            time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def _healthy(url):
    """True when ``/healthz`` answers 200."""
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _get(opener, url, **headers):
    """GET ``url``: its status and body as bytes."""
    request = urllib.request.Request(url, headers=headers)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_the_installed_package_is_the_wheel_not_the_checkout(installed):
    """``portal`` and its folders resolve inside the fresh venv, not in the source tree."""
    _, _, _, site_packages = installed
    where = _run(installed, "-c", "import portal; print(portal.__file__)\n"
                                  "for name in ('templates', 'static', 'translations'):\n"
                                  "    print(portal.resource_folder(name))")
    assert len(where.splitlines()) == 4
    for line in where.splitlines():
        assert Path(line).resolve().is_relative_to(site_packages.resolve()), line


def test_installed_from_another_folder_it_serves_login_with_its_css_htmx_and_chinese(served):
    """/login answers 200 in Chinese, its stylesheet and scripts answer 200, and a demo seller signs in."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    status, body = _get(opener, served + "/login")
    assert status == 200
    page = body.decode()
    with open(ROOT / "portal/translations/zh_Hans_CN/LC_MESSAGES/messages.mo", "rb") as catalogue:
        sign_in = gettext.GNUTranslations(catalogue).gettext("Sign in")
    assert sign_in != "Sign in" and f"<h1>{sign_in}</h1>" in page
    stylesheets = re.findall(r'<link rel="stylesheet" href="([^"]+)"', page)
    scripts = re.findall(r'<script src="([^"]+)"', page)
    # Static files are named by a hash of their content (portal/web/assets.py): css/portal.<hash>.css.
    assert any(re.search(r"/css/portal\.[0-9a-f]{12}\.css$", href) for href in stylesheets)
    assert any(re.search(r"/vendor/htmx-2\.0\.11\.min\.[0-9a-f]{12}\.js$", src) for src in scripts)
    for href in stylesheets + scripts:
        status, asset = _get(opener, urllib.parse.urljoin(served, href))
        path = re.sub(r"\.[0-9a-f]{12}(\.\w+)$", r"\1", urllib.parse.urlsplit(href).path.removeprefix("/static/"))
        assert status == 200, href
        assert asset == (ROOT / "static" / path).read_bytes(), href

    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    form = urllib.parse.urlencode({"csrf_token": token.group(1), "username": "seller-ok",
                                   "password": demo.PASSWORD, "next": ""}).encode()
    with opener.open(urllib.request.Request(served + "/login", data=form), timeout=10) as response:
        assert response.status == 200
        assert urllib.parse.urlsplit(response.url).path != "/login"
    # The demo data made in the fresh venv: seller-ok's shop shows on its deposit page.
    status, body = _get(opener, served + "/deposit")
    assert status == 200
    assert "晨光数码专营店" in body.decode()
