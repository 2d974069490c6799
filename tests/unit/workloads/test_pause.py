"""registry.k8s.io/pause, started as the kubelet starts it."""

from __future__ import annotations

import signal

import pytest

IMAGE = "registry.k8s.io/pause:3.9"


@pytest.mark.parametrize(
    "signum, name", [(signal.SIGTERM, "Terminated"), (signal.SIGINT, "Interrupt")]
)
def test_pause_sleeps_until_a_signal_then_exits_0(spawn, signum, name):
    proc = spawn({"image": IMAGE})
    proc.wait_logged("Warning: pause should be the first process")  # not PID 1 here
    assert proc.popen.poll() is None
    proc.signal(signum)
    assert proc.exit_code(timeout=2) == 0
    assert proc.stderr.read_text().endswith(f"Shutting down, got signal: {name}\n")


def test_pause_version(spawn):
    proc = spawn({"image": IMAGE, "args": ["-V"]})
    assert proc.exit_code() == 0
    assert proc.stdout.read_text().startswith("pause.c ")
