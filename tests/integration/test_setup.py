"""The project's set-up contract: idempotent install, the README's main command, Vagrant."""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.root
def test_second_install_changes_nothing():
    stamp = REPO / ".venv" / ".lab_kit-installed"
    before = stamp.stat().st_mtime_ns
    r = subprocess.run(
        ["bash", "scripts/install.sh", "--test"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout == "" and r.stderr == ""
    assert stamp.stat().st_mtime_ns == before
    assert stamp.read_text().split()[1] == "dev"  # the test tools are in; `./kit lab` asks for less
    lab = subprocess.run(
        ["bash", "scripts/install.sh"], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert (lab.returncode, lab.stdout) == (0, "") and stamp.stat().st_mtime_ns == before


@pytest.mark.root
def test_main_command_serves_jupyterlab_with_the_labs():
    port, token = free_port(), "smoketest-token"
    env = {
        **os.environ,
        "LABKIT_JUPYTER_TOKEN": token,
        "JUPYTER_RUNTIME_DIR": tempfile.mkdtemp(prefix="lk-jrt-"),
    }
    proc = subprocess.Popen(
        ["./kit", "lab", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        lines = []
        # Jupyter prints its URLs once it serves: wait for that line, not for a fixed time.
        while time.monotonic() < deadline:
            line = proc.stdout.readline().decode(errors="replace")
            if not line:
                break
            lines.append(line)
            if (
                f"127.0.0.1:{port}/lab" in line
                and "token" in line
                and "JupyterLab on labs/" not in line
            ):
                break
        assert f"http://127.0.0.1:{port}/lab?token={token}" in "".join(lines)
        r = httpx.get(f"{url}/api/contents", params={"token": token}, timeout=10)
        assert r.status_code == 200
        names = {c["name"] for c in r.json()["content"]}
        assert "README.md" in names
        assert {p.name for p in (REPO / "labs").glob("*.ipynb")} <= names
        assert httpx.get(f"{url}/api/contents", timeout=10).status_code == 403  # no token, no entry
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        shutil.rmtree(env["JUPYTER_RUNTIME_DIR"], ignore_errors=True)


@pytest.mark.parametrize("host", ["this machine", "Apple silicon"])
def test_vagrantfile_validates(host, tmp_path):
    """As written, and as an ARM host would read it (the arm64 box and its providers)."""
    if shutil.which("vagrant") is None:
        pytest.skip("vagrant is not installed (scripts/install.sh --test installs it)")
    text = (REPO / "Vagrantfile").read_text()
    if host == "Apple silicon":
        assert 'arm_host ? "bento/debian-12" : "debian/bookworm64"' in text
        text = re.sub(r"(?m)^arm_host = .*$", "arm_host = true", text)
    (tmp_path / "Vagrantfile").write_text(text)
    home = tempfile.mkdtemp(prefix="lk-vagrant-")
    try:
        r = subprocess.run(
            ["vagrant", "validate", "--ignore-provider"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env={
                **os.environ,
                "VAGRANT_CHECKPOINT_DISABLE": "1",
                "HOME": home,
                "VAGRANT_DOTFILE_PATH": os.path.join(home, ".vagrant"),  # not in the repo
            },
            timeout=120,
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Vagrantfile validated successfully." in r.stdout
