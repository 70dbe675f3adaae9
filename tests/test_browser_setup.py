"""The test command installs Chromium and the CJK font itself where it can (issue 11, item 14)."""
import subprocess
import threading
from pathlib import Path

from tests.e2e import browser


class FakeApt:
    """Records the apt-get commands and, on install, puts the packages' files in place."""

    def __init__(self, chromium, font, fail=None):
        self.chromium, self.font, self.fail = Path(chromium), Path(font), fail
        self.commands = []
        self.lock = threading.Lock()

    def __call__(self, command, **kwargs):
        """What ``subprocess.run`` would answer."""
        with self.lock:
            self.commands.append(command)
        if command[:2] == ["apt-get", self.fail]:
            return subprocess.CompletedProcess(command, 100, "", "E: Unable to locate package chromium\n")
        if command[:2] == ["apt-get", "install"]:
            for path in (self.chromium, self.font):
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text("", encoding="utf-8")
            self.chromium.chmod(0o755)
        return subprocess.CompletedProcess(command, 0, "", "")


def paths(tmp_path):
    """Where this test's Chromium and font would be."""
    return tmp_path / "usr/bin/chromium", tmp_path / "fonts/wqy-microhei.ttc"


def test_as_root_with_apt_it_installs_both_packages_once_for_all_workers(tmp_path):
    """Four workers at once: one runs apt-get update then install of both packages; all then see Chromium."""
    chromium, font = paths(tmp_path)
    apt = FakeApt(chromium, font)
    reasons = []

    def worker():
        """One xdist worker reaching the browser tests."""
        reasons.append(browser.ensure_installed(chromium, font, tmp_path / "lock", run=apt, installable=True))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert reasons == [None] * 4
    assert apt.commands == [["apt-get", "update", "-qq"],
                            ["apt-get", "install", "-y", "-qq", "chromium", "fonts-wqy-microhei"]]
    assert browser.missing(chromium, font) == []


def test_without_root_or_apt_a_missing_chromium_gives_one_line_reason_and_runs_nothing(tmp_path):
    """Not installable: nothing is run, and the skip reason is one line naming the command to run."""
    chromium, font = paths(tmp_path)
    apt = FakeApt(chromium, font)
    reason = browser.ensure_installed(chromium, font, tmp_path / "lock", run=apt, installable=False)
    assert apt.commands == []
    assert "\n" not in reason and "apt-get install chromium fonts-wqy-microhei" in reason


def test_only_the_font_missing_without_root_still_runs_the_browser_tests(tmp_path):
    """Chromium there, font missing, not root: no reason to skip."""
    chromium, font = paths(tmp_path)
    chromium.parent.mkdir(parents=True)
    chromium.write_text("", encoding="utf-8")
    chromium.chmod(0o755)
    assert browser.ensure_installed(chromium, font, tmp_path / "lock", run=FakeApt(chromium, font),
                                    installable=False) is None


def test_a_failing_apt_get_says_which_command_failed_in_one_line(tmp_path):
    """apt-get install failing: the reason names the command, its exit code and apt's last line."""
    chromium, font = paths(tmp_path)
    apt = FakeApt(chromium, font, fail="install")
    reason = browser.ensure_installed(chromium, font, tmp_path / "lock", run=apt, installable=True)
    assert reason.startswith("apt-get install -y -qq chromium fonts-wqy-microhei failed (exit 100)")
    assert "Unable to locate package" in reason and "\n" not in reason


def test_can_install_needs_root_and_apt_get():
    """Root with apt-get can install; a non-root user or a machine without apt-get cannot."""
    assert browser.can_install(euid=0, apt_get="/usr/bin/apt-get")
    assert not browser.can_install(euid=1000, apt_get="/usr/bin/apt-get")
    assert not browser.can_install(euid=0, apt_get="")
