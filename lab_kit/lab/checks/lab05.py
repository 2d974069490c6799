"""Lab 05's checks: unnamed ports refused, named target ports resolved per pod into the
EndpointSlice, one kube-proxy chain per Service port, an environment variable per named port,
each port reaching its own container, and one name resolving to two numbers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lab_kit.lab.checks._base import expect, passed
from lab_kit.lab.checks.common import check_spread
from lab_kit.render.proxy_rules import svc_chain

if TYPE_CHECKING:
    from lab_kit.lab.lab import Lab

HTTP_CHAIN, HTTPS_CHAIN = "KUBE-SVC-CDGGSHYLG3RE2FKL", "KUBE-SVC-54WW65JLHZHRV7HC"


def check_unnamed_refused(lab: Lab, refused: str) -> None:
    """The two-port Service without names is refused, a Required error per port, and nothing
    is stored."""
    expect('Service "web-unnamed" is invalid' in refused, "the Service refused", refused)
    for i in (0, 1):
        expect(f"spec.ports[{i}].name: Required value" in refused,
               f"spec.ports[{i}].name is required", refused)  # fmt: skip
    names = [s["metadata"]["name"] for s in lab.get("services")]
    expect(names == ["kubernetes"], "nothing stored", names)
    passed("two unnamed ports: refused, spec.ports[i].name is required")


def check_named_ports(lab: Lab) -> str:
    """Service web: port 80 named http -> targetPort 'http', 443 named https -> 'https'.
    Returns its ClusterIP."""
    svc = lab.get("services", "web")
    ports = [(p["name"], p["port"], p["targetPort"]) for p in svc["spec"]["ports"]]
    expect(ports == [("http", 80, "http"), ("https", 443, "https")],
           "http 80 -> 'http', https 443 -> 'https'", ports)  # fmt: skip
    cluster_ip = svc["spec"]["clusterIP"]
    passed(f"web: {cluster_ip}, ports http 80 -> 'http', https 443 -> 'https'")
    return cluster_ip


def check_slice_ports(lab: Lab, web_slice: dict) -> tuple[list[str], list[str]]:
    """The slice lists the names resolved to numbers (http 8080, https 8443) and one endpoint
    per web pod. Returns the pods' names and addresses, sorted."""
    pods = lab.get("pods", selector="app=web")
    names = sorted(p["metadata"]["name"] for p in pods)
    ips = sorted(p["status"]["podIP"] for p in pods)
    ports = sorted(web_slice["ports"], key=lambda p: p["name"])
    expect(ports == [{"name": "http", "port": 8080, "protocol": "TCP"},
                     {"name": "https", "port": 8443, "protocol": "TCP"}],
           "ports http = 8080, https = 8443", ports)  # fmt: skip
    addresses = sorted(e["addresses"][0] for e in web_slice["endpoints"])
    expect(addresses == ips, "one endpoint per web pod", addresses)
    passed(f"{len(ips)} endpoints; port http = 8080, https = 8443 on each")
    return names, ips


def check_two_chains(rules, web_ips: list[str]) -> tuple[str, str]:
    """One KUBE-SVC chain per Service port, hashed from default/web:<name> + tcp, entered from
    ClusterIP:80 and :443, and a DNAT per pod and port to the number that pod uses."""
    http_chain, https_chain = (
        svc_chain("default/web:http", "tcp"),
        svc_chain("default/web:https", "tcp"),
    )
    expect((http_chain, https_chain) == (HTTP_CHAIN, HTTPS_CHAIN), "the chains' hashes",
           (http_chain, https_chain))  # fmt: skip
    for name, port, chain in (("http", 80, http_chain), ("https", 443, https_chain)):
        entry = f'"default/web:{name} cluster IP" -m tcp --dport {port} -j {chain}'
        expect(entry in rules, f"KUBE-SERVICES: :{port} -> {chain}")
    dnat = sorted(r.split("--to-destination ")[1] for r in rules.lines if "DNAT" in r)
    wanted = sorted([f"{ip}:8080" for ip in web_ips] + [f"{ip}:8443" for ip in web_ips])
    expect(dnat == wanted, "a DNAT per pod and port", dnat)
    picks = sorted(r.split('"')[1] for r in rules.rules(http_chain) if "->" in r)
    expect(picks == [f"default/web:http -> {ip}:8080" for ip in web_ips],
           f"{http_chain} picks each pod's 8080", picks)  # fmt: skip
    passed(f"{http_chain} (:80 -> :8080) and {https_chain} (:443 -> :8443), {len(dnat)} SEP chains")
    return http_chain, https_chain


def check_env_per_port(env_text: str, cluster_ip: str) -> None:
    """The toolbox's environment: WEB_SERVICE_PORT is the first port, one
    WEB_SERVICE_PORT_<NAME> per named port, one WEB_PORT_<n>_TCP family per port."""
    env = dict(line.split("=", 1) for line in env_text.splitlines())
    expect(env.get("WEB_SERVICE_HOST") == cluster_ip, "WEB_SERVICE_HOST = the ClusterIP",
           env.get("WEB_SERVICE_HOST"))  # fmt: skip
    ports = (env.get("WEB_SERVICE_PORT"), env.get("WEB_SERVICE_PORT_HTTP"),
             env.get("WEB_SERVICE_PORT_HTTPS"))  # fmt: skip
    expect(ports == ("80", "80", "443"), "WEB_SERVICE_PORT 80, _HTTP 80, _HTTPS 443", ports)
    link = f"tcp://{cluster_ip}:80"
    expect(env.get("WEB_PORT") == env.get("WEB_PORT_80_TCP") == link,
           f"WEB_PORT = WEB_PORT_80_TCP = {link}", (env.get("WEB_PORT"), env.get("WEB_PORT_80_TCP")))  # fmt: skip
    expect(env.get("WEB_PORT_443_TCP") == f"tcp://{cluster_ip}:443"
           and env.get("WEB_PORT_443_TCP_PORT") == "443", "the WEB_PORT_443_TCP family",
           (env.get("WEB_PORT_443_TCP"), env.get("WEB_PORT_443_TCP_PORT")))  # fmt: skip
    passed(
        "WEB_SERVICE_PORT_HTTP=80, WEB_SERVICE_PORT_HTTPS=443, one WEB_PORT_<n>_TCP family per port"
    )


def check_each_port_reaches_its_container(lab: Lab, on_http, on_https, http_pod: str,
                                          https_pod: str, toolbox_ip: str,
                                          cluster_ip: str) -> None:  # fmt: skip
    """Per port: the toolbox's SYN went to ClusterIP:port, the answering pod's SYN arrived on
    the container port (8080 / 8443) from the toolbox, one pod and one connection each, and
    that container logged the request."""
    for caps, pod, port, target in (
        (on_http, http_pod, 80, 8080),
        (on_https, https_pod, 443, 8443),
    ):
        ip = lab.get("pods", pod)["status"]["podIP"]
        client_syn, server_syn = caps["toolbox"].packets().syns()[0], caps[pod].packets().syns()[0]
        seen = (client_syn.src, client_syn.dst, client_syn.dport)
        expect(
            seen == (toolbox_ip, cluster_ip, port), f"the toolbox's SYN to ClusterIP:{port}", seen
        )
        seen = (server_syn.src, server_syn.dst, server_syn.dport)
        expect(seen == (toolbox_ip, ip, target), f"{pod}'s SYN on {target}", seen)
        expect(caps.with_connections() == ["toolbox", pod], "one pod, one connection",
               caps.with_connections())  # fmt: skip
    for pod, container in ((https_pod, "https"), (http_pod, "http")):
        last = lab.logs(pod, container=container).splitlines()[-1]
        expect(last.endswith("GET /hostname"), f"container {container} of {pod} logged it", last)
    http_ip = lab.get("pods", http_pod)["status"]["podIP"]
    https_ip = lab.get("pods", https_pod)["status"]["podIP"]
    passed(f"{cluster_ip}:80 -> {http_ip}:8080 (container http); "
           f"{cluster_ip}:443 -> {https_ip}:8443 (container https)")  # fmt: skip


def check_same_name_different_number(lab: Lab, by_mapping: dict, web_ips: list[str],
                                     http_chain: str) -> dict:  # fmt: skip
    """Two slices, one per port mapping (web's pods http=8080, web-alt's http=9090, https
    8443 on all); the http chain picks among all three, the alt pod on 9090. Returns the alt pod."""
    alt_pod = lab.get("pods", selector="track=alt")[0]
    alt_ip = alt_pod["status"]["podIP"]
    wanted = {
        (("http", 8080), ("https", 8443)): web_ips,
        (("http", 9090), ("https", 8443)): [alt_ip],
    }
    expect(by_mapping == wanted, "a slice per port mapping", by_mapping)
    rules = lab.service_rules("web", node="node1")
    picks = sorted(r.split('"')[1] for r in rules.rules(http_chain) if "->" in r)
    expect(picks == sorted([f"default/web:http -> {ip}:8080" for ip in web_ips]
                           + [f"default/web:http -> {alt_ip}:9090"]),
           f"{http_chain} picks the web pods' 8080 and the alt pod's 9090", picks)  # fmt: skip
    expect(f"-j DNAT --to-destination {alt_ip}:8443" in rules, "the alt pod's https on 8443")
    passed(
        f"2 slices: {len(web_ips)} pods with http=8080, 1 pod ({alt_ip}) with http=9090; both https=8443"
    )
    return alt_pod


def check_three_pods_answer(answers: list[str], pods: list[str]) -> None:
    """The requests were answered by exactly these pods, about equally."""
    expect(
        set(answers) - {"ERR"} == set(pods), f"answers from {sorted(pods)}", sorted(set(answers))
    )
    check_spread(answers, pods=len(pods))


def check_picture(slices: list[dict]) -> None:
    """Service web has two slices holding three endpoints between them."""
    endpoints = sum(len(s["endpoints"]) for s in slices)
    expect(len(slices) == 2 and endpoints == 3, "2 slices, 3 endpoints", (len(slices), endpoints))
    passed("web -> 2 EndpointSlices -> 3 pods")
