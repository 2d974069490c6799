"""Lab 03's checks: only KUBERNETES_* before the Service (and the API server behind it), the
Service's variables in a pod started after it and the request they make, pods started before
it without them until a new pod or a restarted container, `enableServiceLinks: false`, and a
recreated Service leaving its old address in running pods."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from lab_kit.lab.checks._base import expect, passed
from lab_kit.lab.checks.common import check_endpoints_are_the_pods

if TYPE_CHECKING:
    from lab_kit.lab.lab import Lab

__all__ = ["check_endpoints_are_the_pods"]  # re-exported for the notebook
KUBERNETES_IP, API_SERVER = "10.96.0.1", "172.18.0.2"
SELECTOR = "app=random-generator"


def environment(text: str) -> dict[str, str]:
    """`env` output as a dict."""
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def check_only_kubernetes(lab: Lab, env_text: str) -> list[str]:
    """A pod started before any Service of its namespace has the kubernetes Service's
    variables (10.96.0.1, port 443 named https) and no RANDOM_GENERATOR_*. Returns the
    KUBERNETES_* names."""
    env = environment(env_text)
    spec = lab.get("services", "kubernetes")["spec"]
    expect(env.get("KUBERNETES_SERVICE_HOST") == spec["clusterIP"] == KUBERNETES_IP,
           f"KUBERNETES_SERVICE_HOST = {KUBERNETES_IP}", env.get("KUBERNETES_SERVICE_HOST"))  # fmt: skip
    expect(env.get("KUBERNETES_SERVICE_PORT") == str(spec["ports"][0]["port"]) == "443",
           "KUBERNETES_SERVICE_PORT = 443", env.get("KUBERNETES_SERVICE_PORT"))  # fmt: skip
    expect(env.get("KUBERNETES_SERVICE_PORT_HTTPS") == "443", "KUBERNETES_SERVICE_PORT_HTTPS = 443 "
           "(the port's name is https)", env.get("KUBERNETES_SERVICE_PORT_HTTPS"))  # fmt: skip
    link = f"tcp://{KUBERNETES_IP}:443"
    expect(env.get("KUBERNETES_PORT") == env.get("KUBERNETES_PORT_443_TCP") == link,
           f"KUBERNETES_PORT = KUBERNETES_PORT_443_TCP = {link}", env.get("KUBERNETES_PORT"))  # fmt: skip
    expect(env.get("KUBERNETES_PORT_443_TCP_ADDR") == KUBERNETES_IP, "KUBERNETES_PORT_443_TCP_ADDR",
           env.get("KUBERNETES_PORT_443_TCP_ADDR"))  # fmt: skip
    ours = [name for name in env if name.startswith("RANDOM_GENERATOR")]
    expect(not ours, "no RANDOM_GENERATOR_* yet", ours)
    names = sorted(name for name in env if name.startswith("KUBERNETES_"))
    passed(f"{len(names)} KUBERNETES_* variables, no RANDOM_GENERATOR_*")
    return names


def check_api_reachable(lab: Lab, version) -> None:
    """/version through KUBERNETES_SERVICE_HOST:PORT answered (major "1"), and the kubernetes
    Service's endpoint is the API server on node1."""
    major = json.loads(version.stdout or "{}").get("major")
    expect(major == "1", "the API server's /version, major 1", version.stdout or version.stderr)
    addresses = lab.get("endpointslices", "kubernetes")["endpoints"][0]["addresses"]
    expect(addresses == [API_SERVER], f"the kubernetes endpoint {API_SERVER}", addresses)
    passed(
        f"KUBERNETES_SERVICE_HOST:PORT -> {KUBERNETES_IP}:443 -> the API server at {API_SERVER}:6443"
    )


def check_toolbox_env(lab: Lab, env_text: str, k8s_vars: list[str]) -> str:
    """A pod started after the Service has exactly its seven variables with the ClusterIP and
    the Service's port 80 (not the pods' 8080), and the KUBERNETES_* ones still. Returns the
    ClusterIP."""
    env = environment(env_text)
    spec = lab.get("services", "random-generator")["spec"]
    cluster_ip, port = spec["clusterIP"], spec["ports"][0]
    link = f"tcp://{cluster_ip}:80"
    wanted = {
        "RANDOM_GENERATOR_SERVICE_HOST": cluster_ip, "RANDOM_GENERATOR_SERVICE_PORT": "80",
        "RANDOM_GENERATOR_PORT": link, "RANDOM_GENERATOR_PORT_80_TCP": link,
        "RANDOM_GENERATOR_PORT_80_TCP_PROTO": "tcp", "RANDOM_GENERATOR_PORT_80_TCP_PORT": "80",
        "RANDOM_GENERATOR_PORT_80_TCP_ADDR": cluster_ip,
    }  # fmt: skip
    ours = {k: v for k, v in env.items() if k.startswith("RANDOM_GENERATOR_")}
    expect(ours == wanted, "the Service's seven variables", ours)
    expect((port["port"], port["targetPort"]) == (80, 8080), "port 80 -> 8080", port)
    kept = sorted(n for n in env if n.startswith("KUBERNETES_"))
    expect(kept == k8s_vars, "the KUBERNETES_* variables still there", kept)
    passed(f"toolbox: RANDOM_GENERATOR_SERVICE_HOST={cluster_ip} = the ClusterIP, "
           "_SERVICE_PORT=80 = the Service's port")  # fmt: skip
    return cluster_ip


def check_call_by_env(lab: Lab, reply, packets, cluster_ip: str) -> str:
    """curl by the variables got a random-generator answer, and its SYN went from the toolbox
    to ClusterIP:80. Returns the toolbox's address."""
    toolbox_ip = lab.get("pods", "toolbox")["status"]["podIP"]
    keys = set(json.loads(reply.stdout)) if reply.returncode == 0 else set()
    expect(keys == {"random", "id"}, "an answer with random and id", reply.stdout or reply.stderr)
    syn = packets.syns()[0]
    expect((syn.src, syn.dst, syn.dport) == (toolbox_ip, cluster_ip, 80),
           "a SYN from the toolbox to ClusterIP:80", (syn.src, syn.dst, syn.dport))  # fmt: skip
    passed(
        f"$RANDOM_GENERATOR_SERVICE_HOST:$RANDOM_GENERATOR_SERVICE_PORT -> SYN {toolbox_ip} -> {cluster_ip}:80"
    )
    return toolbox_ip


def check_started_before(lab: Lab, stale, missing, early_pods: list[str]) -> None:
    """In a pod older than the Service the URL has no host (curl exit 3), the variable is
    missing (printenv exit 1), and none of those pods has it."""
    expect(stale.returncode == 3, "curl exit 3: malformed URL (no host)", stale.returncode)
    expect(missing.returncode == 1 and missing.stdout == "", "printenv exit 1: no such variable",
           (missing.returncode, missing.stdout))  # fmt: skip
    having = [
        p for p in early_pods if "RANDOM_GENERATOR_SERVICE_HOST=" in lab.exec(p, "env").stdout
    ]
    expect(not having, "no early pod has RANDOM_GENERATOR_*", having)
    passed(f"all {len(early_pods)} pods started before the Service lack RANDOM_GENERATOR_*")


def check_replacement(lab: Lab, early_pods: list[str], deleted: str, cluster_ip: str) -> str:
    """The ReplicaSet's one new pod has the variables (the ClusterIP, 80). Returns its name."""
    current = [p["metadata"]["name"] for p in lab.get("pods", selector=SELECTOR)
               if not p["metadata"].get("deletionTimestamp")]  # fmt: skip
    new = sorted(set(current) - set(early_pods))
    expect(len(new) == 1, "one replacement pod", new)
    (replacement,) = new
    fresh = lab.exec(
        replacement, "printenv", "RANDOM_GENERATOR_SERVICE_HOST", "RANDOM_GENERATOR_SERVICE_PORT"
    )
    expect(fresh.stdout.split() == [cluster_ip, "80"], f"{cluster_ip} and 80 in it", fresh.stdout)
    passed(f"{replacement} (replaces {deleted}): RANDOM_GENERATOR_SERVICE_HOST={cluster_ip}")
    return replacement


def check_restarted_container(lab: Lab, victim: str, victim_ip: str, exit_code: int, again,
                              cluster_ip: str, untouched: list[str]) -> None:  # fmt: skip
    """The container exited 0 (Completed) and was restarted once in the same pod (same IP,
    the previous log ends in SHUTDOWN NOW); it has the variable now, the untouched pods not."""
    pod = lab.get("pods", victim)
    (status,) = pod["status"]["containerStatuses"]
    expect(exit_code == 0 and status["restartCount"] == 1, "exit 0 and one restart",
           (exit_code, status["restartCount"]))  # fmt: skip
    reason = ((status.get("lastState") or {}).get("terminated") or {}).get("reason")
    expect(reason == "Completed", "last state: terminated, Completed", reason)
    expect(pod["status"]["podIP"] == victim_ip, "the same pod (same IP)", pod["status"]["podIP"])
    expect(
        "SHUTDOWN NOW" in lab.logs(victim, previous=True),
        "the previous container's log ends in SHUTDOWN NOW",
    )
    expect(
        again.stdout.strip() == cluster_ip,
        f"the restarted container has {cluster_ip}",
        again.stdout,
    )
    having = [
        p
        for p in untouched
        if lab.exec(p, "printenv", "RANDOM_GENERATOR_SERVICE_HOST").returncode != 1
    ]
    expect(not having, "the untouched early pods still without", having)
    passed(
        f"{victim}: same pod, restarted container -> now has RANDOM_GENERATOR_SERVICE_HOST={cluster_ip}"
    )


def check_no_links(lab: Lab, env_text: str, k8s_vars: list[str]) -> None:
    """enableServiceLinks: false leaves only the KUBERNETES_* variables."""
    env = environment(env_text)
    flag = lab.get("pods", "no-links")["spec"].get("enableServiceLinks")
    expect(flag is False, "enableServiceLinks: false", flag)
    ours = [name for name in env if name.startswith("RANDOM_GENERATOR")]
    expect(not ours, "no RANDOM_GENERATOR_*", ours)
    kept = sorted(n for n in env if n.startswith("KUBERNETES_"))
    expect(kept == k8s_vars, "the KUBERNETES_* variables", kept)
    passed(
        f"enableServiceLinks: false -> only the {len(k8s_vars)} KUBERNETES_* variables, although the Service exists"
    )


def check_recreated(lab: Lab, new_ip: str, held, cluster_ip: str) -> None:
    """A new ClusterIP; the toolbox still holds the old one, which no rule on node1 mentions."""
    expect(new_ip != cluster_ip, "a new ClusterIP", new_ip)
    expect(held.stdout.strip() == cluster_ip, "the toolbox still has the old address", held.stdout)
    expect(
        cluster_ip not in lab.iptables("node1", "nat"), f"no rule on node1 mentions {cluster_ip}"
    )
    passed(f"toolbox still says {cluster_ip}; the Service is now at {new_ip}")


def check_stale_address(lab: Lab, old, packets, cluster_ip: str, new_ip: str) -> None:
    """curl by the stale variables timed out (exit 28) sending SYNs to the old address:80 and
    hearing nothing, not even ICMP; the new address answers."""
    syns = packets.syns()
    expect(old.returncode == 28, "curl exit 28: timed out", old.returncode)
    expect(syns and (syns[0].dst, syns[0].dport) == (cluster_ip, 80), f"SYNs to {cluster_ip}:80",
           syns[:1])  # fmt: skip
    expect(not packets.filter(protocol="ICMP"), "no ICMP: silence")
    works = lab.exec("toolbox", "curl", "-sS", "-m", "3", f"http://{new_ip}/").returncode
    expect(works == 0, f"{new_ip} answers", works)
    passed(f"{len(syns)} SYNs to the stale {cluster_ip}:80, no answer; {new_ip} answers")
