"""The kiosk's files: shellcheck on every script, systemd-analyze verify on every unit, install.sh idempotent.

Debian packages these need (installed by `make system-test-deps`): shellcheck, systemd (systemd-analyze),
rsync (install.sh copies the tree with it); debootstrap for the opt-in chroot test.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from .conftest import ROOT

KIOSK = ROOT / "kiosk"
INSTALL = KIOSK / "install.sh"
SCRIPTS = sorted(KIOSK.glob("*.sh"))
UNITS = sorted(KIOSK.glob("*.service"))
ANSWERS = [
    "--board-id", "tan-quan", "--name", 'UBND xã "Tân" Quan', "--feed-url", "https://district.example/feed/feed.json",
    "--feed-key", "ed25519:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "--inbox", "/srv/signage/bangtin",
]  # fmt: skip


def _need(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed (Debian package {package}; `make system-test-deps` installs it)")
    return path


def test_kiosk_has_the_scripts_and_units() -> None:
    assert {p.name for p in SCRIPTS} >= {"install.sh", "usb-import.sh"}
    assert {p.name for p in UNITS} >= {"signage.service", "signage-x.service", "signage-usb-import@.service"}
    for script in SCRIPTS:
        assert os.access(script, os.X_OK), f"{script.name} is not executable"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_shellcheck(script: Path) -> None:
    shellcheck = _need("shellcheck", "shellcheck")
    run = subprocess.run([shellcheck, "--severity=style", str(script)], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.fixture(scope="module")
def unit_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throwaway root for `systemd-analyze verify --root`.

    verify checks that every ExecStart= binary exists and is executable, and the real ones (/opt/signage/.venv,
    Xorg) are not on a test machine. Rather than filter its messages (which could hide a real error of the same
    shape), the units are verified against a temporary root holding executable stubs at exactly the paths the
    units name, plus a copy of the host's stock units (sysinit.target, ...) they depend on. Any output at all
    (unknown keys, bad values, missing commands) fails the test.
    """
    _need("systemd-analyze", "systemd")
    root = tmp_path_factory.mktemp("unitroot")
    stock = Path("/usr/lib/systemd/system")
    if not stock.is_dir():
        stock = Path("/lib/systemd/system")
    shutil.copytree(stock, root / "usr/lib/systemd/system", symlinks=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    for unit in UNITS:
        text = unit.read_text()
        shutil.copy(unit, root / "etc/systemd/system" / unit.name)
        for line in text.splitlines():
            key, _, value = line.partition("=")
            if key.strip() in {"ExecStart", "ExecStartPre", "ExecStartPost", "ExecStop", "ExecReload"}:
                command = value.strip().lstrip("-+@!:").split()[0]
                stub = root / command.lstrip("/")
                stub.parent.mkdir(parents=True, exist_ok=True)
                stub.write_text("#!/bin/sh\n")
                stub.chmod(0o755)
    return root


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_systemd_analyze_verify(unit: Path, unit_root: Path) -> None:
    run = subprocess.run(
        ["systemd-analyze", "verify", f"--root={unit_root}", str(unit_root / "etc/systemd/system" / unit.name)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0 and not (run.stdout + run.stderr).strip(), run.stdout + run.stderr


def test_units_keep_the_contract() -> None:
    player = (KIOSK / "signage.service").read_text()
    for line in [
        "Type=notify", "NotifyAccess=main", "Restart=always", "WatchdogSec=30", "User=signage", "StartLimitBurst=5",
        "StartLimitAction=reboot", "ExecStart=/opt/signage/.venv/bin/signage play --config /etc/signage/board.toml",
        "Requires=signage-x.service",
    ]:  # fmt: skip
        assert line in player.splitlines(), line
    x = (KIOSK / "signage-x.service").read_text()
    assert "-s 0 -dpms" in x and "-nolisten tcp" in x
    journald = (KIOSK / "journald-signage.conf").read_text().splitlines()
    assert "Storage=volatile" in journald and any(line.startswith("RuntimeMaxUse=") for line in journald)


def test_local_users_cannot_read_what_the_units_create() -> None:
    """The hub's database (password hashes, sessions) and the board's (queue, key, media) are their service's alone."""
    hub = (KIOSK / "signage-hub.service").read_text().splitlines()
    assert {"StateDirectory=signage-hub", "StateDirectoryMode=0700", "UMask=0077"} <= set(hub)
    assert any(line.startswith("LimitNOFILE=") and int(line.split("=")[1]) >= 16384 for line in hub)
    player = (KIOSK / "signage.service").read_text().splitlines()
    assert {"StateDirectory=signage", "StateDirectoryMode=0700", "UMask=0077"} <= set(player)
    assert "UMask=0077" in (KIOSK / "signage-usb-import@.service").read_text().splitlines()


def _install(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    _need("rsync", "rsync")
    return subprocess.run(["sh", str(INSTALL), *args], capture_output=True, text=True, check=False, env=env, stdin=subprocess.DEVNULL)


def _snapshot(root: Path) -> dict[str, tuple[str, float]]:
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            out[str(path.relative_to(root))] = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime)
    return out


def test_install_dry_run_says_what_it_would_do_and_changes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "root"
    first = _install("--root", str(root), "--dry-run", *ANSWERS)
    assert first.returncode == 0, first.stderr
    for expected in [
        "would copy:", "would run: python3 -m venv /opt/signage/.venv", "would install: /etc/signage/board.toml",
        "would install: /etc/systemd/system/signage.service", "would install: /etc/systemd/system/signage-x.service",
        "would install: /etc/systemd/journald.conf.d/signage.conf", "would install: /etc/udev/rules.d/99-signage-usb.rules",
    ]:  # fmt: skip
        assert expected in first.stdout, first.stdout
    assert not root.exists(), "--dry-run wrote files"
    again = _install("--root", str(root), "--dry-run", *ANSWERS)
    assert again.stdout == first.stdout


def test_install_refuses_bad_answers(tmp_path: Path) -> None:
    missing = _install("--root", str(tmp_path), "--dry-run", "--name", "X")
    assert missing.returncode == 2 and "--board-id" in missing.stderr
    bad = _install("--root", str(tmp_path), "--dry-run", "--board-id", "Tân Quan", "--name", "X")
    assert bad.returncode == 2 and "--board-id" in bad.stderr
    key = _install("--root", str(tmp_path), "--dry-run", "--board-id", "a", "--name", "X", "--feed-url", "https://x/f.json")
    assert key.returncode == 2 and "--feed-key" in key.stderr
    assert _install("--bogus").returncode == 2


@pytest.mark.slow
def test_install_into_a_root_twice_changes_nothing_then_uninstalls(tmp_path: Path) -> None:
    """A real install under --root (the venv built with PIP_NO_DEPS=1 to stay quick), then a second run that
    must change no file, then --uninstall that keeps the config and state."""
    root = tmp_path / "root"
    env = {**os.environ, "PIP_NO_DEPS": "1"}
    first = _install("--root", str(root), *ANSWERS, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert (root / "opt/signage/.venv/bin/signage").exists()
    assert oct((root / "var/lib/signage").stat().st_mode & 0o777) == "0o700"  # the board's state: signage's alone
    config = (root / "etc/signage/board.toml").read_text()
    assert 'name = "UBND xã \\"Tân\\" Quan"' in config and f'public_keys = ["{ANSWERS[7]}"]' in config
    import tomllib

    assert tomllib.loads(config)["board"]["name"] == 'UBND xã "Tân" Quan'
    before = _snapshot(root)
    second = _install("--root", str(root), env=env)  # no answers needed: the config exists
    assert second.returncode == 0, second.stdout + second.stderr
    assert "nothing to do: already installed" in second.stdout, second.stdout
    assert _snapshot(root) == before
    dry = _install("--root", str(root), "--dry-run")
    assert "would " not in dry.stdout, dry.stdout

    gone = _install("--root", str(root), "--uninstall")
    assert gone.returncode == 0, gone.stderr
    assert not (root / "opt/signage").exists() and not (root / "etc/systemd/system/signage.service").exists()
    assert not (root / "etc/udev/rules.d/99-signage-usb.rules").exists()
    assert (root / "etc/signage/board.toml").exists() and (root / "var/lib/signage").is_dir()
    assert "kept /var/lib/signage" in gone.stdout


# --- install.sh for real on a fresh Debian 12, in a debootstrap chroot ------------------------------------

CHROOT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "signage" / "bookworm-minbase.tar"


def _bookworm_base(timeout: float = 600) -> Path:
    """A minbase bookworm tree (debootstrap, about a minute from deb.debian.org), cached as a tarball."""
    if not CHROOT_CACHE.exists():
        CHROOT_CACHE.parent.mkdir(parents=True, exist_ok=True)
        work = CHROOT_CACHE.parent / "bookworm-minbase"
        shutil.rmtree(work, ignore_errors=True)
        subprocess.run(
            ["debootstrap", "--variant=minbase", "bookworm", str(work), "http://deb.debian.org/debian"],
            check=True, capture_output=True, timeout=timeout,
        )  # fmt: skip
        subprocess.run(["tar", "-C", str(work), "-cf", f"{CHROOT_CACHE}.part", "."], check=True)
        os.replace(f"{CHROOT_CACHE}.part", CHROOT_CACHE)
        shutil.rmtree(work, ignore_errors=True)
    return CHROOT_CACHE


OPT_IN = "opt-in: SIGNAGE_CHROOT_TEST=1 (root, debootstrap, network; ~3-5 min)"


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("SIGNAGE_CHROOT_TEST") != "1", reason=OPT_IN)
def test_install_on_fresh_debian_in_a_chroot(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (chroot, mount)")
    _need("debootstrap", "debootstrap")
    root = tmp_path / "bookworm"
    root.mkdir()
    with tarfile.open(_bookworm_base()) as tar:
        tar.extractall(root, filter="fully_trusted")
    shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")
    # The host's CA bundle, for a network whose TLS goes through a proxy with its own CA (pip to PyPI).
    shutil.copy("/etc/ssl/certs/ca-certificates.crt", root / "root/host-ca.crt")
    (root / "usr/sbin/policy-rc.d").write_text("#!/bin/sh\nexit 101\n")  # packages must not start services here
    (root / "usr/sbin/policy-rc.d").chmod(0o755)
    subprocess.run(
        ["rsync", "-a", "--exclude=/.venv", "--exclude=/.git", "--exclude=__pycache__", f"{ROOT}/", f"{root}/root/signage/"], check=True
    )
    subprocess.run(["mount", "-t", "proc", "proc", str(root / "proc")], check=True)
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LANG": "C.UTF-8", "PIP_DEFAULT_TIMEOUT": "180"}
    env["PIP_CERT"] = "/root/host-ca.crt"

    def chroot(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["chroot", str(root), *args], capture_output=True, text=True, env=env, timeout=timeout, check=False)

    try:
        first = chroot("/root/signage/kiosk/install.sh", *ANSWERS)
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
        assert "systemd is not running here" in first.stdout
        assert "signage:" in (root / "etc/passwd").read_text()
        version = chroot("/opt/signage/.venv/bin/signage", "--version")
        assert version.returncode == 0 and "signage" in version.stdout, version.stderr
        player = "/opt/signage/.venv/bin/signage"
        plan = chroot("runuser", "-u", "signage", "--", player, "plan", "--config", "/etc/signage/board.toml", "--hours", "1")
        assert plan.returncode == 0, plan.stdout + plan.stderr  # the venv imports and reads the written config
        for name in ["etc/systemd/system/signage.service", "etc/systemd/system/signage-x.service", "etc/signage/board.toml"]:
            assert (root / name).is_file(), name
        before = _snapshot(root / "opt/signage") | {f"etc/{k}": v for k, v in _snapshot(root / "etc").items()}
        second = chroot("/root/signage/kiosk/install.sh")
        assert second.returncode == 0 and "nothing to do: already installed" in second.stdout, second.stdout + second.stderr
        assert (_snapshot(root / "opt/signage") | {f"etc/{k}": v for k, v in _snapshot(root / "etc").items()}) == before
        gone = chroot("/root/signage/kiosk/install.sh", "--uninstall")
        assert gone.returncode == 0, gone.stderr
        assert not (root / "opt/signage").exists() and (root / "etc/signage/board.toml").exists()
    finally:
        subprocess.run(["umount", "-l", str(root / "proc")], check=False)
