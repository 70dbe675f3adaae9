"""What the browser tests need from the machine, installed by the test command itself where it can be.

Run as root on a Debian-like machine (``apt-get`` on the PATH), the first browser test installs
Debian's Chromium and a CJK font; elsewhere a missing Chromium skips the browser tests with a
one-line reason (a failure under ``CI=true``, see ``conftest.chromium_installed``). Several xdist
workers reach this at once: a file lock lets one install while the others wait, then look again.
"""
import fcntl
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"  # without it, Chinese renders as boxes
PACKAGES = ("chromium", "fonts-wqy-microhei")
LOCK = Path(tempfile.gettempdir()) / "portal-e2e-apt.lock"
APT_SECONDS = 900


def missing(chromium=CHROMIUM, font=FONT):
    """The packages whose files are not on this machine."""
    absent = []
    if not os.access(chromium, os.X_OK):
        absent.append("chromium")
    if not os.path.isfile(font):
        absent.append("fonts-wqy-microhei")
    return absent


def can_install(euid=None, apt_get=None):
    """True when we are root and apt-get is there."""
    euid = os.geteuid() if euid is None else euid
    apt_get = shutil.which("apt-get") if apt_get is None else apt_get
    return euid == 0 and bool(apt_get)


def ensure_installed(chromium=CHROMIUM, font=FONT, lock=LOCK, run=subprocess.run, installable=None):
    """Install what is missing if we can; ``None`` when Chromium is ready, else why not (one line)."""
    if not missing(chromium, font):
        return None
    if not (can_install() if installable is None else installable):
        if "chromium" in missing(chromium, font):
            return f"Chromium not installed at {chromium}: apt-get install {' '.join(PACKAGES)} (as root)"
        return None  # only the font is missing: the tests run, screenshots show boxes for Chinese
    with open(lock, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        # Another worker may have installed everything while this one waited for the lock.
        if missing(chromium, font):
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *PACKAGES]):
                done = run(command, env=env, capture_output=True, text=True, timeout=APT_SECONDS)
                if done.returncode != 0:
                    last = (done.stderr or done.stdout or "").strip().splitlines()[-1:] or [""]
                    return f"{' '.join(command)} failed (exit {done.returncode}): {last[0]}"
    if "chromium" in missing(chromium, font):
        return f"Chromium still missing at {chromium} after apt-get install {' '.join(PACKAGES)}"
    return None
