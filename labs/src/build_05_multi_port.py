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
    code("""from lab_kit import Lab
from lab_kit.lab import plots
from lab_kit.lab.checks.lab05 import (check_each_port_reaches_its_container, check_env_per_port,
                                      check_named_ports, check_picture,
                                      check_same_name_different_number, check_slice_ports,
                                      check_three_pods_answer, check_two_chains,
                                      check_unnamed_refused)

lab = Lab.up()"""),
    md("""## Several ports need names

A Service with two ports and no names. The API server refuses it, for each port: with more
than one port, names are how everything downstream — EndpointSlices, kube-proxy's chains,
environment variables, DNS SRV records — tells the ports apart."""),
    code("""# NBVAL_CHECK_OUTPUT
print(open("manifests/multiport-unnamed.yml").read())
refused = lab.refusal("manifests/multiport-unnamed.yml")
print(refused)"""),
    code("""check_unnamed_refused(lab, refused)  # and nothing stored"""),
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
    code("""cluster_ip = check_named_ports(lab)"""),
    md("""## The EndpointSlice: one entry per Service port, resolved

The EndpointSlice controller looks each name up in every selected pod's containers (a port
with that `name` and the same protocol) and writes the *numbers* it found, under the
*Service* port's name."""),
    code("""lab.get("endpointslices", wide=True)"""),
    code("""(web_slice,) = lab.get("endpointslices", selector="kubernetes.io/service-name=web")
web_slice["ports"]"""),
    code("""web_pods, web_ips = check_slice_ports(lab, web_slice)"""),
    md("""## Two chains in kube-proxy's rules

kube-proxy handles each *Service port* on its own. The chain name hashes the Service and the
port's name (`default/web:http` + `tcp`), so there are two `KUBE-SVC-…` chains, two
`KUBE-SERVICES` entries (ClusterIP:80 and ClusterIP:443) and one `KUBE-SEP-…` per pod *and*
port, each DNATing to the number the pod uses for that name."""),
    code("""rules = lab.service_rules("web", node="node1")
rules"""),
    code("""http_chain, https_chain = check_two_chains(rules, web_ips)"""),
    md("""## Environment variables per named port

A pod started after the Service (the toolbox) gets `WEB_SERVICE_PORT` (the *first* port)
and, for every named port, `WEB_SERVICE_PORT_<NAME>`; the Docker-links family
`WEB_PORT_<port>_TCP…` appears once per port (lab 03)."""),
    code("""print("\\n".join(lab.apply("manifests/toolbox.yml", wait=True)))
toolbox_env = lab.exec("toolbox", "env", echo=True)
print(toolbox_env.stdout)"""),
    code("""check_env_per_port(toolbox_env.stdout, cluster_ip)"""),
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
    code("""check_each_port_reaches_its_container(lab, on_http, on_https, http_pod, https_pod,
                                      toolbox_ip, cluster_ip)"""),
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
    code("""alt_pod = check_same_name_different_number(lab, by_mapping, web_ips, http_chain)"""),
    md("""120 requests to port 80: all three pods answer, each on its own number for `http`."""),
    code("""answers = lab.requests("toolbox", f"http://{cluster_ip}/hostname", 120)
plots.distribution(answers, "120 requests to web:80 (targetPort http)", expected=120 / 3)"""),
    code("""# each within 6 sd of Binomial(120, 1/3)'s mean 40
check_three_pods_answer(answers, [*web_pods, alt_pod["metadata"]["name"]])"""),
    md("""## The picture

The Service, its two slices (one per port mapping) and the three pods behind them."""),
    code("""lab.draw_services()"""),
    code("""check_picture(slices)"""),
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
