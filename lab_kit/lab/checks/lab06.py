"""Lab 06's checks: no affinity spreads, ClientIP sticks (defaulted to 10800 s), kube-proxy's
`recent` rules and the kernel's lists behind them, one pod on the wire, affinity per client
and per node, the window's limit and its `--seconds`, and the window counted from the last
connection."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from lab_kit.lab.checks._base import expect, passed

if TYPE_CHECKING:
    from lab_kit.lab.lab import Lab

NODES = {"node1", "node2", "node3"}


def check_none_spreads(spec: dict, spread: list[str]) -> None:
    """sessionAffinity defaulted to None (no config); 100 requests reached all 4 pods, each
    more than 5 and fewer than 50 times (Binomial(100, 1/4): odds below 1e-6 otherwise)."""
    expect(spec.get("sessionAffinity") == "None" and "sessionAffinityConfig" not in spec,
           "sessionAffinity None, no sessionAffinityConfig", spec.get("sessionAffinity"))  # fmt: skip
    counts = Counter(spread)
    expect(
        "ERR" not in counts and len(counts) == 4, "every request answered, by 4 pods", dict(counts)
    )
    expect(
        all(5 < n < 50 for n in counts.values()),
        "each pod more than 5, fewer than 50",
        dict(counts),
    )
    passed(f"None: 100 requests over 4 pods: {sorted(counts.values())}")


def check_client_ip(lab: Lab, cluster_ip: str, sticky_answers: list[str]) -> str:
    """ClientIP, the same ClusterIP, timeoutSeconds defaulted to 10800; one pod answered all
    100 requests. Returns that pod."""
    spec = lab.get("services", "random-generator")["spec"]
    expect(spec["sessionAffinity"] == "ClientIP" and spec["clusterIP"] == cluster_ip,
           "ClientIP on the same ClusterIP", (spec["sessionAffinity"], spec["clusterIP"]))  # fmt: skip
    config = spec.get("sessionAffinityConfig")
    expect(
        config == {"clientIP": {"timeoutSeconds": 10800}},
        "timeoutSeconds defaulted to 10800",
        config,
    )
    pods = set(sticky_answers)
    expect(len(pods) == 1 and "ERR" not in pods and len(sticky_answers) == 100,
           "one pod answered all 100", Counter(sticky_answers))  # fmt: skip
    (sticky,) = pods
    passed(f"ClientIP: all 100 requests answered by {sticky}")
    return sticky


def check_recent_rules(rules, chain: str, sep_of: dict[str, str]) -> None:
    """Four `--rcheck --seconds 10800 --reap` rules ahead of the random ones, one per endpoint
    jumping to its chain; each endpoint's DNAT rule `--set`s its own list."""
    svc_rules = rules.rules(chain)
    checks = [r for r in svc_rules if "--rcheck" in r]
    first_random = next((i for i, r in enumerate(svc_rules) if "--probability" in r), -1)
    expect(len(checks) == 4 and all(svc_rules.index(r) < first_random for r in checks),
           "4 --rcheck rules before the random ones", checks)  # fmt: skip
    for sep in sep_of.values():
        mine = [r for r in checks if f"--rcheck --seconds 10800 --reap --name {sep} " in r
                and r.endswith(f"-j {sep}")]  # fmt: skip
        expect(mine, f"an --rcheck rule for {sep}, jumping to it")
        dnat = [r for r in rules.rules(sep) if "DNAT" in r]
        expect(len(dnat) == 1 and f"-m recent --set --name {sep} " in dnat[0],
               f"{sep}'s DNAT --sets its list", dnat)  # fmt: skip
    passed("4 --rcheck rules before the random ones; each of the 4 SEP chains --sets its own list")


def check_kernel_memory(lab: Lab, sep_of: dict[str, str], sticky: str, toolbox_ip: str) -> None:
    """node1's list for the sticky pod holds the toolbox alone, the other lists are empty, and
    node2 and node3 never saw the toolbox."""
    lists = {
        pod: str(lab.host("node1", "cat", f"/proc/net/xt_recent/{sep}"))
        for pod, sep in sep_of.items()
    }
    mine = lists[sticky]
    expect(mine.startswith(f"src={toolbox_ip} ") and mine.count("src=") == 1,
           f"{sep_of[sticky]} holds the toolbox only", mine)  # fmt: skip
    others = {pod: text for pod, text in lists.items() if pod != sticky and text}
    expect(not others, "the other lists empty", others)
    for node in ("node2", "node3"):
        seen = lab.host(node, "sh", "-c", "cat /proc/net/xt_recent/*").stdout
        expect(toolbox_ip not in seen, f"{node} never saw the toolbox", seen)
    passed(f"node1 remembers {toolbox_ip} in {sep_of[sticky]} ({sticky}) only")


def check_one_pod_on_wire(caps, sticky: str, toolbox_ip: str) -> None:
    """20 connections, 20 SYNs from the toolbox to 8080, all at the sticky pod."""
    syns = caps[sticky].packets().syns()
    expect(
        caps.with_connections() == [sticky],
        f"connections at {sticky} only",
        caps.with_connections(),
    )
    expect(len(syns) == 20 and {(s.src, s.dport) for s in syns} == {(toolbox_ip, 8080)},
           "20 SYNs from the toolbox to 8080", len(syns))  # fmt: skip
    ports = len({s.sport for s in syns})
    expect(ports == 20, "20 different connections", ports)
    passed(f"20 connections from {toolbox_ip}, 20 SYNs at {sticky}, none at the other pods")


def check_per_client(lab: Lab, stuck: dict[str, list[str]]) -> dict[str, str]:
    """Each client stuck to one pod; the callers run on all three nodes; together they use more
    than one pod (11 one-in-4 draws on one pod: about 1e-6). Returns caller -> node."""
    loose = {c: sorted(set(a)) for c, a in stuck.items() if len(set(a)) != 1 or a[0] == "ERR"}
    expect(not loose, "each client on one pod", loose)
    placed = {
        p["metadata"]["name"]: p["spec"]["nodeName"]
        for p in lab.get("pods", selector="app=callers")
    }
    expect(
        set(placed.values()) == NODES, "callers on all three nodes", sorted(set(placed.values()))
    )
    used = {a[0] for a in stuck.values()}
    expect(len(used) > 1, "more than one pod in use", used)
    passed(f"{len(stuck)} clients, each on one pod; pods used: {len(used)}")
    return placed


def check_node2_memory(lab: Lab, node2_lists, placed: dict[str, str], stuck: dict[str, list[str]],
                       sep_of: dict[str, str]) -> None:  # fmt: skip
    """Every caller on node2 is in exactly one of node2's lists: its pod's."""
    ips = {
        p["metadata"]["name"]: p["status"]["podIP"] for p in lab.get("pods", selector="app=callers")
    }
    on_node2 = [c for c, node in sorted(placed.items()) if node == "node2"]
    expect(on_node2, "callers on node2", placed)
    for c in on_node2:  # "<list file>:src=<ip>"
        where = [
            line.split(":")[0]
            for line in node2_lists.stdout.split()
            if line.endswith(f"src={ips[c]}")
        ]
        wanted = [f"/proc/net/xt_recent/{sep_of[stuck[c][0]]}"]
        expect(where == wanted, f"{c} only in {wanted[0]}", where)
    passed(f"{len(on_node2)} callers on node2, each in exactly one of node2's lists: its pod's")


def check_window_refused(lab: Lab, refused: str) -> None:
    """86401 s is refused (the limit is a day), and nothing changed."""
    expect("spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 86401" in refused,
           "timeoutSeconds 86401 refused", refused)  # fmt: skip
    config = lab.get("services", "random-generator")["spec"]["sessionAffinityConfig"]
    expect(config == {"clientIP": {"timeoutSeconds": 10800}}, "still 10800", config)
    passed("86401 s is refused: the window is at most a day")


def check_window_rules(rules, chain: str) -> None:
    """All 4 --rcheck rules now say --seconds 3."""
    checks = [r for r in rules.rules(chain) if "--rcheck" in r]
    expect(len(checks) == 4 and all("--rcheck --seconds 3 --reap" in r for r in checks),
           "4 --rcheck rules with --seconds 3", checks)  # fmt: skip
    passed(f"all 4 --rcheck rules now: {checks[0].split(' -m recent ')[1]}")


def check_kept_connecting(stream: list[str], stream_pods: set[str]) -> list[float]:
    """Connections for longer than the window, never a gap near it, all to one pod. Returns
    their times."""
    times = [float(line.split()[0]) for line in stream]
    expect(times[-1] - times[0] > 3, "longer than the 3 s window", times[-1] - times[0])
    gap = max(b - a for a, b in zip(times, times[1:], strict=False))
    expect(gap < 2, "no gap near 3 s", gap)
    expect(len(stream_pods) == 1 and "ERR" not in stream_pods, "all to one pod", stream_pods)
    passed(
        f"{len(stream)} connections over {times[-1] - times[0]:.1f} s, all to {next(iter(stream_pods))}"
    )
    return times


def check_rebalanced(
    before: dict[str, list[str]], after: dict[str, list[str]], moved: list[str]
) -> None:
    """Sticky within each burst, all answered, and after the silence some client moved (all 11
    drawing their old pod again: (1/4)^11, about 2.4e-7)."""
    loose = [c for c in before if len(set(before[c])) != 1 or len(set(after[c])) != 1]
    expect(not loose, "sticky in each burst", loose)
    expect("ERR" not in {a[0] for a in after.values()}, "every request answered after the silence")
    expect(moved, "some client re-balanced", moved)
    passed(f"{len(moved)} of {len(before)} clients re-balanced after 3.5 s of silence")


def check_timeline(samples: list[tuple[float, str]], stream_len: int, last: float,
                   after_toolbox: list[str]) -> None:  # fmt: skip
    """The burst ends at the last connection, the next starts after the window, on one pod."""
    before_silence, after_silence = samples[:stream_len], samples[stream_len:]
    expect(all(t <= last for t, _ in before_silence) and all(t > last + 3 for t, _ in after_silence),
           "a silence longer than the window", last)  # fmt: skip
    expect({p for _, p in after_silence} == set(after_toolbox), "one pod again after it",
           {p for _, p in after_silence})  # fmt: skip
    gap = after_silence[0][0] - last
    passed(
        f"toolbox: {before_silence[0][1]}, then after {gap:.1f} s of silence {after_silence[0][1]}"
    )
