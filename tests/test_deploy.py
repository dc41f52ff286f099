"""The services as deploy/install.sh lays them out (into a temporary root, the units pointing at
this project's .venv): ``systemd-analyze verify`` finds nothing to say, each service keeps the
rules (its whole process group stopped with it, restarted on failure, its own user, the
settings file), the target groups them, the settings file is what the pipeline reads, and
installing again keeps the operator's settings."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.settings import VARIABLES, Settings
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
SERVICES = ["tuangiao-page.service", "tuangiao-dagster-webserver.service", "tuangiao-dagster-daemon.service"]
BACKUP = ["tuangiao-backup.service", "tuangiao-backup.timer"]
BINARIES = [ROOT / ".venv" / "bin" / name for name in ("python", "dagster-webserver", "dagster-daemon")]


def _install(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(DEPLOY / "install.sh"), str(root), str(ROOT)], capture_output=True, text=True, check=True)


@pytest.fixture
def installed(tmp_path) -> Path:
    _install(tmp_path)
    return tmp_path / "etc" / "systemd" / "system"


def _unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str
    parser.read(path)
    return parser


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze (systemd) not installed")
@pytest.mark.skipif(not all(p.exists() for p in BINARIES), reason="the project's .venv (ExecStart's programs) not installed")
def test_systemd_verifies_the_units(installed):
    done = subprocess.run([SYSTEMD_ANALYZE, "verify", "tuangiao.target", *SERVICES, *BACKUP], cwd=installed,
                          capture_output=True, text=True)
    assert done.returncode == 0 and done.stderr == "", done.stderr


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze (systemd) not installed")
def test_verify_would_see_a_wrong_unit(installed):
    """What the test above relies on: a program that is not there, or a setting systemd does not
    understand, is reported."""
    page = installed / SERVICES[0]
    page.write_text(page.read_text().replace("KillMode=control-group", "KillMode=nhom")
                    .replace(str(BINARIES[0]), "/khong/co/python"))
    done = subprocess.run([SYSTEMD_ANALYZE, "verify", SERVICES[0]], cwd=installed, capture_output=True, text=True)
    assert done.returncode != 0 and "kill mode" in done.stderr and "/khong/co/python" in done.stderr


def test_each_service_keeps_the_rules(installed):
    for name in SERVICES:
        unit = _unit(installed / name)
        service = unit["Service"]
        assert service["KillMode"] == "control-group" and service["Restart"] == "on-failure"
        assert service["User"] == service["Group"] == "tuangiao"
        assert service["EnvironmentFile"] == "/etc/tuangiao/tuangiao.env"
        assert service["ExecStart"].startswith(str(ROOT / ".venv" / "bin"))
        assert unit["Unit"]["PartOf"] == "tuangiao.target" and unit["Install"]["WantedBy"] == "tuangiao.target"
        assert "@APP@" not in (installed / name).read_text()
    assert "--path-prefix /dagster" in _unit(installed / SERVICES[1])["Service"]["ExecStart"]  # Caddy's /dagster
    assert "--host 127.0.0.1" in _unit(installed / SERVICES[0])["Service"]["ExecStart"]  # behind Caddy only
    assert _unit(installed / "tuangiao.target")["Unit"]["Wants"].split() == SERVICES
    assert {p.name for p in (DEPLOY / "systemd").glob("tuangiao-*")} == set(SERVICES + BACKUP)


def test_the_nightly_backup(installed):
    """After the nightly job (01:00, Vietnam's time), as the service user with the same settings,
    into TUANGIAO_BACKUP_DIR keeping TUANGIAO_BACKUP_KEEP; a night the machine was off is made up."""
    service, timer = (_unit(installed / name) for name in BACKUP)
    assert service["Service"]["Type"] == "oneshot" and service["Service"]["User"] == "tuangiao"
    assert service["Service"]["EnvironmentFile"] == "/etc/tuangiao/tuangiao.env"
    assert service["Service"]["ExecStart"].endswith(
        "-m pipeline backup ${TUANGIAO_BACKUP_DIR} --keep ${TUANGIAO_BACKUP_KEEP}")
    assert timer["Timer"]["OnCalendar"] == "*-*-* 02:30:00 Asia/Ho_Chi_Minh" and timer["Timer"]["Persistent"] == "true"


def test_the_settings_file_is_what_the_pipeline_reads(installed):
    settings_file = installed.parent.parent / "tuangiao" / "tuangiao.env"
    pairs = dict(line.split("=", 1) for line in settings_file.read_text().splitlines() if line and not line.startswith("#"))
    assert set(pairs) - {"DAGSTER_HOME", "TUANGIAO_BACKUP_DIR", "TUANGIAO_BACKUP_KEEP"} <= set(VARIABLES.values())
    assert int(pairs["TUANGIAO_BACKUP_KEEP"]) > 0
    settings = Settings.from_environment(pairs)
    state = Path("/var/lib") / _unit(installed / SERVICES[0])["Service"]["StateDirectory"].split()[0]
    assert settings.data.parent == state and Path(pairs["DAGSTER_HOME"]).parent == state
    assert settings.trusted_proxy == "127.0.0.1"
    assert oct(settings_file.stat().st_mode & 0o777) == "0o640"


def test_installing_again_keeps_the_operators_settings(installed):
    root = installed.parent.parent.parent
    settings_file = root / "etc" / "tuangiao" / "tuangiao.env"
    settings_file.write_text("TUANGIAO_DATA_DIR=/srv/du-lieu\n")
    caddyfile = root / "etc" / "caddy" / "Caddyfile"
    caddyfile.write_text(":80 {\n}\n")  # Debian's own, say
    _install(root)
    assert settings_file.read_text() == "TUANGIAO_DATA_DIR=/srv/du-lieu\n"
    assert caddyfile.read_bytes() == (DEPLOY / "Caddyfile").read_bytes()
    assert (root / "etc" / "caddy" / "Caddyfile.truoc-tuangiao").read_text() == ":80 {\n}\n"


@pytest.mark.skipif(shutil.which("caddy") is None, reason="caddy (Debian's caddy package) not installed")
def test_the_installed_front_is_valid_with_the_example_settings(installed, tmp_path):
    """The Caddyfile with caddy.env as shipped (its officers' file made with caddy hash-password)."""
    root = installed.parent.parent.parent
    example = root / "etc" / "tuangiao" / "caddy.env"
    env = dict(line.split("=", 1) for line in example.read_text().splitlines() if line and not line.startswith("#"))
    hashed = subprocess.run(["caddy", "hash-password", "--plaintext", "mat-khau"], capture_output=True, text=True,
                            check=True).stdout.strip()
    assert env["TUANGIAO_CADDY_USERS"].startswith("/etc/caddy/")  # the caddy user cannot enter /etc/tuangiao
    (tmp_path / "caddy-users").write_text(f"huyen {hashed}\n")
    env |= {"TUANGIAO_CADDY_USERS": str(tmp_path / "caddy-users"), "HOME": str(tmp_path),
            "XDG_DATA_HOME": str(tmp_path / "xdg"), "XDG_CONFIG_HOME": str(tmp_path / "xdg-config")}
    done = subprocess.run(["caddy", "validate", "--config", str(root / "etc" / "caddy" / "Caddyfile"), "--adapter",
                           "caddyfile"], capture_output=True, text=True, env=os.environ | env)
    assert done.returncode == 0, done.stderr
    assert "Valid configuration" in done.stdout + done.stderr
    (tmp_path / "caddy-users").write_text("")  # nobody may open the Dagster UI: Caddy refuses to start
    refused = subprocess.run(["caddy", "validate", "--config", str(root / "etc" / "caddy" / "Caddyfile"), "--adapter",
                              "caddyfile"], capture_output=True, text=True, env=os.environ | env)
    assert refused.returncode != 0
