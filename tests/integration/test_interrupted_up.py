"""Records that cannot strand you (root): a real `labkit up` interrupted at several moments
(SIGINT as Ctrl-C sends it, and SIGTERM) leaves nothing behind — no process whose command
line names the run dir, no `lk-*` link, no run dir — and a lab whose state.json is deleted
is still reported by `labkit status` and removed whole by `labkit clean`. The moments are
conditions read from `up`'s own progress lines and files, never delays.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab_kit import Lab
from lab_kit.adapters import records
from lab_kit.adapters.processes import ProcessRecord, is_alive
from lab_kit.adapters.rundir import RunDir

pytestmark = pytest.mark.root
LABKIT = [sys.executable, "-m", "lab_kit.cli.main"]


def leftovers(rd: RunDir) -> dict:
    return {
        "processes": [p.name for p in records.lab_processes(rd)],
        "links": records.lab_links(),
        "run dir": os.path.exists(rd.path),
    }


NOTHING = {"processes": [], "links": [], "run dir": False}


def start_up(run_dir: Path) -> subprocess.Popen:
    env = {**os.environ, "LABKIT_RUN_DIR": str(run_dir), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([*LABKIT, "up"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)  # fmt: skip


def read_until(proc: subprocess.Popen, marker: str) -> list[str]:
    """`up`'s progress lines up to the first that contains `marker`."""
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if marker in line:
            return lines
    raise AssertionError(f"`labkit up` ended before {marker!r}:\n{''.join(lines)}")


def network_building(run_dir: Path) -> bool:
    """Mininet is being built: its log exists, its record (network.json) does not yet."""
    return (run_dir / "logs" / "network.log").exists() and not (run_dir / "network.json").exists()


@pytest.mark.parametrize(
    "moment, sig",
    [
        ("supervisor           ready", signal.SIGINT),  # the control plane starting
        ("apiserver            ready", signal.SIGINT),  # the controller-manager starting
        ("controller-manager   ready", signal.SIGTERM),  # the network being built
        ("nodes ready", signal.SIGINT),  # the addons being applied
    ],
)
def test_an_interrupted_up_leaves_nothing(run_dir, moment, sig):
    rd = RunDir(str(run_dir))
    up = start_up(run_dir)
    try:
        read_until(up, moment)
        if sig is signal.SIGTERM:  # wait until Mininet is really under way
            deadline = time.monotonic() + 30
            while not network_building(run_dir) and time.monotonic() < deadline:
                time.sleep(0.01)
        up.send_signal(sig)
        rest, _ = up.communicate(timeout=60)
    finally:
        if up.poll() is None:
            up.kill()
    assert up.returncode == 130, rest
    assert "interrupted: the lab's processes were stopped again" in rest
    assert leftovers(rd) == NOTHING


def test_without_state_json_status_says_so_and_clean_removes_everything(run_dir, book):
    rd = RunDir(str(run_dir))
    lab = Lab.up()
    lab.apply(str(book / "deployment.yml"), wait=True, timeout_s=60)
    pods = [lab.sandbox(p["metadata"]["name"]) for p in lab.get("pods")]
    lab.client.close()
    os.unlink(rd.state_file)
    env = {**os.environ, "LABKIT_RUN_DIR": str(run_dir)}
    status = subprocess.run([*LABKIT, "status"], capture_output=True, text=True, env=env)
    assert status.returncode == 1
    assert f"{rd.state_file} is gone, but processes of this lab still run" in status.stdout
    up = subprocess.run([*LABKIT, "up"], capture_output=True, text=True, env=env)
    assert up.returncode == 1 and "without its record" in up.stderr
    clean = subprocess.run([*LABKIT, "clean"], capture_output=True, text=True, env=env)
    assert clean.returncode == 0 and "(found by its command line)" in clean.stdout
    assert leftovers(rd) == NOTHING
    for sandbox in pods:  # the pods' pause and container processes went with the kubelets
        for rec in [sandbox["pause"], *(c["pid"] for c in sandbox["containers"].values())]:
            assert not is_alive(ProcessRecord("pod", rec["pid"], rec["start_ticks"], []))


def test_a_notebooks_lab_up_takes_over_a_lab_left_running(run_dir, capsys):
    first = Lab.up(control_plane_only=True)
    first.client.close()  # the notebook that started it failed before its down()
    old = records.lab_processes(RunDir(str(run_dir)))
    second = Lab.up(control_plane_only=True)
    assert capsys.readouterr().out.startswith("A lab was left running (started ")
    assert not any(is_alive(p) for p in old)
    assert second.get("namespaces")  # the new lab answers
    second.down()
