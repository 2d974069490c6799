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
