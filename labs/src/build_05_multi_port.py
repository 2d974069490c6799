"""Build labs/05-multi-port-services.ipynb from these cells (then execute it so outputs are committed)."""

from nbbuild import code, exercise, md, write

NOTEBOOK = "labs/05-multi-port-services.ipynb"  # the default output, from the repository root

CURL_HTTP = "curl -sS http://$WEB_SERVICE_HOST:$WEB_SERVICE_PORT_HTTP/hostname"
CURL_HTTPS = "curl -sS http://$WEB_SERVICE_HOST:$WEB_SERVICE_PORT_HTTPS/hostname"
cells = [
    md("""# 05 · One Service, two named ports

**What you will see:** a Service `web` that exposes port **80** and port **443**, in front
of pods with two containers: one serves on 8080 (its port is *named* `http`), the other on
8443 (named `https`). The Service's `targetPort`s are those names, not numbers. You will see
the API server insist on port names, the EndpointSlice list both ports, kube-proxy write one
chain per port, the environment variables name each port, and requests on each port land in
the right container. Then a second Deployment whose `http` is **9090**: the same name
resolves to a different number on different pods, and the EndpointSlices split by it.

(Both containers run agnhost's `netexec`, which speaks plain HTTP: the "https" port carries
no TLS here. This lab is about the port plumbing, not about encryption.)"""),
    code("""from collections import Counter

from lab_kit import Lab
from lab_kit.lab import plots
from lab_kit.render.proxy_rules import svc_chain

lab = Lab.up()"""),
    md("""## Several ports need names

A Service with two ports and no names. The API server refuses it, for each port: with more
than one port, names are how everything downstream — EndpointSlices, kube-proxy's chains,
environment variables, DNS SRV records — tells the ports apart."""),
    code("""# NBVAL_CHECK_OUTPUT
print(open("manifests/multiport-unnamed.yml").read())
refused = lab.refusal("manifests/multiport-unnamed.yml")
print(refused)"""),
    code("""assert 'Service "web-unnamed" is invalid' in refused
assert "spec.ports[0].name: Required value" in refused
assert "spec.ports[1].name: Required value" in refused
assert [s["metadata"]["name"] for s in lab.get("services")] == ["kubernetes"]  # nothing stored
print("two unnamed ports: refused, spec.ports[i].name is required")"""),
    md("""## Named container ports, named target ports

`manifests/multiport-deployment.yml` runs two replicas of a pod with two containers. Each
container declares its port with a name; the readiness probes use the names too."""),
    code("""# NBVAL_CHECK_OUTPUT
print(open("manifests/multiport-deployment.yml").read())"""),
    md("""`manifests/multiport-service.yml` names its ports `http` and `https`, and points each
`targetPort` at a container port *name*. The Service does not know, and need not know, which
numbers the pods use."""),
    code("""# NBVAL_CHECK_OUTPUT
print(open("manifests/multiport-service.yml").read())
print("\\n".join(lab.apply(["manifests/multiport-deployment.yml", "manifests/multiport-service.yml"], wait=True)))"""),
    code("""lab.wait_ready()
lab.get("services")"""),
    code("""svc = lab.get("services", "web")
cluster_ip = svc["spec"]["clusterIP"]
assert [(p["name"], p["port"], p["targetPort"]) for p in svc["spec"]["ports"]] == [
    ("http", 80, "http"), ("https", 443, "https")]
print(f"web: {cluster_ip}, ports http 80 -> 'http', https 443 -> 'https'")"""),
    md("""## The EndpointSlice: one entry per Service port, resolved

The EndpointSlice controller looks each name up in every selected pod's containers (a port
with that `name` and the same protocol) and writes the *numbers* it found, under the
*Service* port's name."""),
    code("""lab.get("endpointslices", wide=True)"""),
    code("""(web_slice,) = lab.get("endpointslices", selector="kubernetes.io/service-name=web")
web_slice["ports"]"""),
    code("""web_pods = sorted(p["metadata"]["name"] for p in lab.get("pods", selector="app=web"))
web_ips = sorted(p["status"]["podIP"] for p in lab.get("pods", selector="app=web"))
assert sorted(web_slice["ports"], key=lambda p: p["name"]) == [
    {"name": "http", "port": 8080, "protocol": "TCP"}, {"name": "https", "port": 8443, "protocol": "TCP"}]
assert sorted(e["addresses"][0] for e in web_slice["endpoints"]) == web_ips
print(f"{len(web_ips)} endpoints; port http = 8080, https = 8443 on each")"""),
    md("""## Two chains in kube-proxy's rules

kube-proxy handles each *Service port* on its own. The chain name hashes the Service and the
port's name (`default/web:http` + `tcp`), so there are two `KUBE-SVC-…` chains, two
`KUBE-SERVICES` entries (ClusterIP:80 and ClusterIP:443) and one `KUBE-SEP-…` per pod *and*
port, each DNATing to the number the pod uses for that name."""),
    code("""rules = lab.service_rules("web", node="node1")
rules"""),
    code("""http_chain, https_chain = svc_chain("default/web:http", "tcp"), svc_chain("default/web:https", "tcp")
assert (http_chain, https_chain) == ("KUBE-SVC-CDGGSHYLG3RE2FKL", "KUBE-SVC-54WW65JLHZHRV7HC")
assert f'"default/web:http cluster IP" -m tcp --dport 80 -j {http_chain}' in rules
assert f'"default/web:https cluster IP" -m tcp --dport 443 -j {https_chain}' in rules
dnat = [r.split("--to-destination ")[1] for r in rules.lines if "DNAT" in r]
assert sorted(dnat) == sorted([f"{ip}:8080" for ip in web_ips] + [f"{ip}:8443" for ip in web_ips])
assert sorted(r.split('"')[1] for r in rules.rules(http_chain) if "->" in r) == [
    f"default/web:http -> {ip}:8080" for ip in web_ips]
print(f"{http_chain} (:80 -> :8080) and {https_chain} (:443 -> :8443), {len(dnat)} SEP chains")"""),
    md("""## Environment variables per named port

A pod started after the Service (the toolbox) gets `WEB_SERVICE_PORT` (the *first* port)
and, for every named port, `WEB_SERVICE_PORT_<NAME>`; the Docker-links family
`WEB_PORT_<port>_TCP…` appears once per port (lab 03)."""),
    code("""print("\\n".join(lab.apply("manifests/toolbox.yml", wait=True)))
toolbox_env = lab.exec("toolbox", "env", echo=True)
print(toolbox_env.stdout)"""),
    code("""env = dict(line.split("=", 1) for line in toolbox_env.stdout.splitlines())
assert env["WEB_SERVICE_HOST"] == cluster_ip
assert (env["WEB_SERVICE_PORT"], env["WEB_SERVICE_PORT_HTTP"], env["WEB_SERVICE_PORT_HTTPS"]) == ("80", "80", "443")
assert env["WEB_PORT"] == env["WEB_PORT_80_TCP"] == f"tcp://{cluster_ip}:80"
assert env["WEB_PORT_443_TCP"] == f"tcp://{cluster_ip}:443" and env["WEB_PORT_443_TCP_PORT"] == "443"
print("WEB_SERVICE_PORT_HTTP=80, WEB_SERVICE_PORT_HTTPS=443, one WEB_PORT_<n>_TCP family per port")"""),
    md("""## Each port reaches its container

One request per port from the toolbox, using those variables, each while we capture on the
toolbox and on both `web` pods. `/hostname` answers with the pod's name, so we know which
pod to look at; on that pod the capture shows which *container port* the connection reached,
and that container's log shows the request."""),
    code(f"""toolbox_ip = lab.get("pods", "toolbox")["status"]["podIP"]
only_toolbox = f"tcp and host {{toolbox_ip}}"  # leave out the kubelet's readiness probes
with lab.capture_many(["toolbox", *web_pods], packet_filter=only_toolbox) as on_http:
    http_pod = lab.exec("toolbox", "sh", "-c", "{CURL_HTTP}", echo=True).stdout.strip()
with lab.capture_many(["toolbox", *web_pods], packet_filter=only_toolbox) as on_https:
    https_pod = lab.exec("toolbox", "sh", "-c", "{CURL_HTTPS}", echo=True).stdout.strip()
print("port 80 answered by", http_pod, "; port 443 answered by", https_pod)
on_https["toolbox"].packets()"""),
    code("""on_https[https_pod].packets()"""),
    code("""https_ip = lab.get("pods", https_pod)["status"]["podIP"]
http_ip = lab.get("pods", http_pod)["status"]["podIP"]
for caps, pod, ip, port, target in ((on_http, http_pod, http_ip, 80, 8080), (on_https, https_pod, https_ip, 443, 8443)):
    client_syn, server_syn = caps["toolbox"].packets().syns()[0], caps[pod].packets().syns()[0]
    assert (client_syn.src, client_syn.dst, client_syn.dport) == (toolbox_ip, cluster_ip, port)
    assert (server_syn.src, server_syn.dst, server_syn.dport) == (toolbox_ip, ip, target)
    assert caps.with_connections() == ["toolbox", pod]  # one pod, one connection
assert lab.logs(https_pod, container="https").splitlines()[-1].endswith("GET /hostname")
assert lab.logs(http_pod, container="http").splitlines()[-1].endswith("GET /hostname")
print(f"{cluster_ip}:80 -> {http_ip}:8080 (container http); {cluster_ip}:443 -> {https_ip}:8443 (container https)")"""),
    code("""lab.draw_connection(on_https["toolbox"], on_https[https_pod],
                    "toolbox", https_pod, node="node1")"""),
    md("""## Same name, different number

`manifests/multiport-alt.yml` adds a Deployment `web-alt` whose pods also carry `app: web`,
but whose `http` container listens on **9090** and names *that* port `http`. The Service
does not change: its `targetPort: http` now means 8080 on two pods and 9090 on the third.
(This is how you move a backend to another port without touching the Service: roll out pods
with the new number under the old name.)"""),
    code("""# NBVAL_CHECK_OUTPUT
print(open("manifests/multiport-alt.yml").read())
print("\\n".join(lab.apply("manifests/multiport-alt.yml", wait=True)))"""),
    code("""lab.wait_ready()
lab.get("endpointslices", wide=True)"""),
    md("""An EndpointSlice has **one** port list for all its endpoints, so pods that resolve the
names to different numbers cannot share one: the controller keeps one slice per distinct
port mapping. kube-proxy merges the slices again: the `http` chain now picks among three
endpoints, one of them on 9090."""),
    code("""slices = lab.get("endpointslices", selector="kubernetes.io/service-name=web")
by_mapping = {tuple(sorted((p["name"], p["port"]) for p in s["ports"])): sorted(e["addresses"][0] for e in s["endpoints"])
              for s in slices}
by_mapping"""),
    code("""alt_pod = lab.get("pods", selector="track=alt")[0]
alt_ip = alt_pod["status"]["podIP"]
assert by_mapping == {(("http", 8080), ("https", 8443)): web_ips, (("http", 9090), ("https", 8443)): [alt_ip]}
rules = lab.service_rules("web", node="node1")
assert sorted(r.split('"')[1] for r in rules.rules(http_chain) if "->" in r) == sorted(
    [f"default/web:http -> {ip}:8080" for ip in web_ips] + [f"default/web:http -> {alt_ip}:9090"])
assert f"-j DNAT --to-destination {alt_ip}:8443" in rules
print(f"2 slices: {len(web_ips)} pods with http=8080, 1 pod ({alt_ip}) with http=9090; both https=8443")"""),
    md("""120 requests to port 80: all three pods answer, each on its own number for `http`."""),
    code("""answers = lab.requests("toolbox", f"http://{cluster_ip}/hostname", 120)
plots.distribution(answers, "120 requests to web:80 (targetPort http)", expected=120 / 3)"""),
    code("""counts = Counter(answers)
assert "ERR" not in counts and set(counts) == {*web_pods, alt_pod["metadata"]["name"]}
# Binomial(120, 1/3) per pod: mean 40, sd 5.2; below 10 or above 75 is practically impossible.
assert all(10 < n < 75 for n in counts.values()), counts
print(dict(sorted(counts.items())))"""),
    md("""## The picture

The Service, its two slices (one per port mapping) and the three pods behind them."""),
    code("""lab.draw_services()"""),
    code("""assert len(slices) == 2 and sum(len(s["endpoints"]) for s in slices) == 3
print("web -> 2 EndpointSlices -> 3 pods")"""),
    md("""## What you saw

- With more than one port, every Service port needs a name
  (`lab_kit/model/validation_service.py`: `_service_port`, mirrored from Kubernetes'
  `pkg/apis/core/validation`).
- A named `targetPort` is resolved per pod, by the container port's name and protocol
  (`lab_kit/controllers/pods.py`: `find_port`); the EndpointSlice lists the resolved numbers
  under the Service port's name, one slice per distinct mapping
  (`lab_kit/controllers/endpointslice.py`: `endpoint_ports`, `port_map_key`).
- kube-proxy writes one `KUBE-SVC-…` chain per Service port, hashed from
  `namespace/service:portname` + protocol (`lab_kit/render/proxy_rules.py`: `svc_chain`).
- The kubelet adds `<SVC>_SERVICE_PORT_<NAME>` for each named port
  (`lab_kit/node/envvars.py`: `from_service`).

Next: `06-session-affinity.ipynb` — keeping a client on the same pod."""),
    md("""## Your turn

Two changes to the live cluster; each check says what it saw."""),
    code("""from lab_kit.lab.exercises import check"""),
    *exercise(
        "05.1",
        "A targetPort no pod names",
        "Change the Service's `https` port to `targetPort: tls`, a name no container declares "
        "(edit a copy of `manifests/multiport-service.yml` and apply it, or `labkit edit "
        "service web`).",
        "what will the EndpointSlices list as ports now, and what does the toolbox get from "
        "the ClusterIP's port 443: a timeout, a refusal, or an answer? And from port 80?",
        'tls = open("manifests/multiport-service.yml").read().replace("targetPort: https", "targetPort: tls")\n'
        'print("\\n".join(lab.apply(tls, wait=True)))\n'
        'lab.get("endpointslices", wide=True)',
    ),
    *exercise(
        "05.2",
        "More pods on the other number",
        "Scale `web-alt` (whose `http` is 9090) to 3 replicas.",
        "will the controller make a slice per pod, one more slice, or none? How many "
        "endpoints will each slice hold?",
        "!labkit scale deployment web-alt --replicas=3\n"
        "!labkit rollout status deployment web-alt\n"
        "!labkit get endpointslices -o wide",
    ),
    code("""lab.down()"""),
]
if __name__ == "__main__":
    write(cells, NOTEBOOK)
