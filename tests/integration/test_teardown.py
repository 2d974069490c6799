"""`labkit down` leaves the machine's own network exactly as it found it (root)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from lab_kit import Lab

pytestmark = pytest.mark.root


def _root_state() -> dict:
    def run(*argv):
        return subprocess.run(argv, capture_output=True, text=True).stdout

    sysctls = {
        k: Path(f"/proc/sys/{k}").read_text()
        for k in (
            "net/ipv4/ip_forward",
            "net/bridge/bridge-nf-call-iptables",
            "net/ipv4/conf/all/rp_filter",
        )
        if os.path.exists(f"/proc/sys/{k}")
    }
    return {
        "links": run("ip", "-o", "link", "show"),
        "addrs": run("ip", "-o", "addr"),
        "routes": run("ip", "route", "show", "table", "all"),
        "iptables": _rules(run("iptables-save")),
        "nft": run("nft", "list", "ruleset"),
        "netns": run("ip", "netns", "list"),
        "sysctls": json.dumps(sysctls),
    }


def _rules(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith("#"))


def test_down_leaves_the_root_namespace_exactly_as_before(run_dir, book):
    before = _root_state()
    lab = Lab.up()
    lab.apply(str(book / "deployment.yml"), wait=True, timeout_s=60)
    assert len(lab.get("pods")) == 4
    lab.down()
    after = _root_state()
    assert after == before
    assert not run_dir.exists()


def test_clean_removes_what_a_crashed_lab_left(run_dir, book):
    import signal

    from lab_kit.lab import lifecycle

    lab = Lab.up()
    lab.apply(str(book / "deployment.yml"), wait=True, timeout_s=60)
    records = [lab.sandbox(p["metadata"]["name"]) for p in lab.get("pods")]
    pauses = [r["pause"]["pid"] for r in records]
    apps = [c["pid"]["pid"] for r in records for c in r["containers"].values()]
    lab.client.close()
    for p in json.loads((run_dir / "state.json").read_text())["processes"]:
        os.kill(p["pid"], signal.SIGKILL)  # every agent dies at once: the pods and bridges stay
    assert Path("/sys/class/net/lk-s1").exists()
    assert lifecycle.clean(progress=lambda *_: None)
    assert not Path("/sys/class/net/lk-s1").exists() and not Path("/sys/class/net/lk-s2").exists()
    for pid in pauses + apps:  # the pods' pause and container processes too
        stat = Path(f"/proc/{pid}/stat")
        assert not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"
    assert not run_dir.exists()


def test_down_stops_a_capture_left_running(run_dir):
    lab = Lab.up()
    cap = lab.capture("node1").start()  # as if the notebook's kernel died before stop()
    pid = cap.record.pid
    assert "tcpdump" in [
        p["name"] for p in json.loads((run_dir / "state.json").read_text())["processes"]
    ]
    lab.down()
    assert (
        cap.proc.wait(timeout=10) is not None
    )  # down signalled it (we reap it: we are its parent)
    assert not Path(f"/proc/{pid}").exists()
