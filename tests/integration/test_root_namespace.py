"""The machine's own namespaces while a lab runs and after it stops (root).

Before `up`, while the lab runs (pods included) and after `down`, the test takes the same
snapshot of the root network namespace — links, addresses (IPv6 included), routes (v4 and
v6, every table), policy rules, iptables and nftables rules —, the sysctls Mininet's
`fixLimits()` would raise plus forwarding, and the root mount namespace's mounts.

While the lab runs the only difference allowed is the lab's own links in the root
namespace (its bridges and their veth ports, named `lk-*` and recorded in network.json),
and those carry no address and no route. After `down` — or `clean` after every agent was
killed — nothing may differ at all.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from mininet import util as mininet_util

from lab_kit import Lab
from lab_kit.lab import lifecycle

pytestmark = pytest.mark.root

Snapshot = dict[str, set[str]]

# What Mininet's fixLimits() raises (test_the_sysctl_list_covers_fixlimits keeps this in
# step with the installed Mininet), the IPv6 neighbour table's twins, and forwarding: the
# lab's router and nodes forward inside their own namespaces, never in this one.
SYSCTLS = (
    "fs.file-max",
    "net.core.wmem_max",
    "net.core.rmem_max",
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
    "net.core.netdev_max_backlog",
    "net.ipv4.neigh.default.gc_thresh1",
    "net.ipv4.neigh.default.gc_thresh2",
    "net.ipv4.neigh.default.gc_thresh3",
    "net.ipv6.neigh.default.gc_thresh1",
    "net.ipv6.neigh.default.gc_thresh2",
    "net.ipv6.neigh.default.gc_thresh3",
    "net.ipv4.route.max_size",
    "kernel.pty.max",
    "net.ipv4.ip_forward",
    "net.ipv4.conf.all.forwarding",
    "net.ipv6.conf.all.forwarding",
    "net.ipv6.conf.all.disable_ipv6",
    "net.ipv6.conf.default.disable_ipv6",
)

# Fields of `ip -j` output that change on their own (address and route lifetimes).
VOLATILE = {"valid_life_time", "preferred_life_time", "expires"}
COUNTERS = re.compile(r" \[\d+:\d+\]$")  # iptables-save's chain policy counters


def _out(*argv: str) -> str:
    """A command's output ("" when the tool is missing: that table cannot be compared)."""
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout
    except FileNotFoundError:
        return ""


def _ip_json(*args: str) -> list[dict]:
    text = _out("ip", "-j", *args)
    return json.loads(text) if text.strip() else []


def _line(name: str, entry: dict) -> str:
    """One `ip -j` entry as `name {json}` (the name first: the lab's lines are told apart by it)."""
    kept = {k: v for k, v in entry.items() if k not in VOLATILE}
    return f"{name} {json.dumps(kept, sort_keys=True)}"


def _links_and_addresses() -> tuple[set[str], set[str]]:
    links, addresses = set(), set()
    for link in _ip_json("addr", "show"):
        infos = link.pop("addr_info", [])
        link.pop("ifindex", None)  # a link's index is not its identity
        links.add(_line(link["ifname"], link))
        addresses |= {_line(link["ifname"], info) for info in infos}
    return links, addresses


def _routes() -> set[str]:
    routes = set()
    for family in ("-4", "-6"):
        for route in _ip_json(family, "route", "show", "table", "all"):
            routes.add(_line(route.get("dev", "-"), {"family": family, **route}))
    return routes


def _rules() -> set[str]:
    return {
        _line("-", {"family": family, **rule})
        for family in ("-4", "-6")
        for rule in _ip_json(family, "rule", "show")
    }


def _firewall() -> set[str]:
    """iptables (nft and legacy back ends, v4 and v6) and nftables, counters left out."""
    lines = set()
    for tool in (
        "iptables-save",
        "ip6tables-save",
        "iptables-legacy-save",
        "ip6tables-legacy-save",
    ):
        for line in _out(tool).splitlines():
            if line and not line.startswith("#"):
                lines.add(f"{tool}: {COUNTERS.sub('', line)}")
    lines |= {f"nft: {line.strip()}" for line in _out("nft", "-s", "list", "ruleset").splitlines()}
    return lines


def _sysctls() -> set[str]:
    values = set()
    for name in SYSCTLS:
        path = Path("/proc/sys", *name.split("."))
        if path.exists():
            values.add(f"{name} = {' '.join(path.read_text().split())}")
    return values


def _mounts() -> set[str]:
    """The mounts of this process's mount namespace (the machine's, where `labkit up` runs),
    without the mount IDs."""
    lines = Path("/proc/self/mountinfo").read_text().splitlines()
    return {line.split(" ", 2)[2] for line in lines}


def snapshot() -> Snapshot:
    links, addresses = _links_and_addresses()
    return {
        "links": links,
        "addresses": addresses,
        "routes": _routes(),
        "rules": _rules(),
        "firewall": _firewall(),
        "sysctls": _sysctls(),
        "mounts": _mounts(),
        "named netns": set(_out("ip", "netns", "list").splitlines()),
    }


def differences(before: Snapshot, after: Snapshot, allowed: Callable[[str, str], bool]) -> str:
    """What changed, one `section: - line` / `+ line` each, except lines `allowed` accepts."""
    out = []
    for section in before:
        gone = sorted(before[section] - after[section])
        new = sorted(after[section] - before[section])
        out += [f"{section}: - {line}" for line in gone if not allowed(section, line)]
        out += [f"{section}: + {line}" for line in new if not allowed(section, line)]
    return "\n".join(out)


def nothing(section: str, line: str) -> bool:
    return False


def lab_links_only(root_links: set[str]) -> Callable[[str, str], bool]:
    """While the lab runs: its recorded root-namespace links, and nothing on them."""

    def allowed(section: str, line: str) -> bool:
        return section == "links" and line.split(" ", 1)[0] in root_links

    return allowed


def test_the_sysctl_list_covers_fixlimits():
    raised = re.findall(
        r"sysctlTestAndSet\(\s*'([^']+)'", inspect.getsource(mininet_util.fixLimits)
    )
    assert raised and set(raised) <= set(SYSCTLS)


def test_the_lab_leaves_the_root_namespace_as_it_found_it(run_dir, book):
    before = snapshot()
    lab = Lab.up()
    try:
        lab.apply(str(book / "deployment.yml"), wait=True, timeout_s=60)
        root_links = set(lifecycle.network_info()["root_links"])
        during = snapshot()
    finally:
        lab.down()
    after = snapshot()

    assert {"lk-s1", "lk-s2"} <= root_links and all(n.startswith("lk-") for n in root_links)
    present = {line.split(" ", 1)[0] for line in during["links"] - before["links"]}
    assert present == root_links, "the lab's recorded root links are the ones it made"
    changed = differences(before, during, lab_links_only(root_links))
    assert not changed, f"while the lab ran, the root namespaces changed:\n{changed}"
    changed = differences(before, after, nothing)
    assert not changed, f"after `down`, the root namespaces differ from before `up`:\n{changed}"
    assert not run_dir.exists()


def test_clean_after_a_crash_leaves_the_root_namespace_as_it_found_it(run_dir):
    before = snapshot()
    lab = Lab.up()
    lab.client.close()
    for p in json.loads((run_dir / "state.json").read_text())["processes"]:
        os.kill(p["pid"], signal.SIGKILL)  # every agent at once: Mininet stops nothing
    assert differences(before, snapshot(), nothing), "the crashed lab's bridges are still there"
    assert lifecycle.clean(progress=lambda *_: None)
    changed = differences(before, snapshot(), nothing)
    assert not changed, f"after `clean`, the root namespaces differ from before `up`:\n{changed}"
