"""Build labs/07-readiness.ipynb from these cells (then execute it so outputs are committed)."""

from nbbuild import code, exercise, md, write

NOTEBOOK = "labs/07-readiness.ipynb"  # the default output, from the repository root

cells = [
    md("""# 07 · Readiness: a failing probe takes a pod out of rotation

**What you will see:** three `random-generator` replicas with the book's exec readiness
probe behind the labs' ClusterIP Service (lab 02), and a button that makes one of them fail its probe. The
kubelet marks the pod not Ready, the EndpointSlice keeps it but flags it `ready: false`,
every node's kube-proxy drops it from its rules, and requests to the Service stop reaching
it — while the pod itself runs on and answers anyone who calls its own address. Press the
button again and it comes back. A timeline shows which pod answered every request."""),
    code("""import time

from lab_kit import Lab
from lab_kit.lab import plots
from lab_kit.lab.checks.lab07 import (check_answers_directly, check_back_in_rules,
                                      check_dropped_on_every_node, check_endpoint_flagged,
                                      check_every_pod_answered, check_no_traffic_to_victim,
                                      check_probe_and_ready_endpoints, check_running_but_not_ready,
                                      check_timeline)
from lab_kit.lab.random_generator import replica_ids, stamped, who_answered
from lab_kit.lab.widgets import readiness_toggle, wait_readiness
from lab_kit.render.proxy_rules import svc_chain

lab = Lab.up()
print("\\n".join(lab.apply(["manifests/toolbox.yml", "manifests/clusterip-service.yml"], wait=True)))"""),
    md("""## The book's readiness probe

`manifests/readiness-deployment.yml` is the book's Deployment (three replicas here) with the
Health Probe pattern's readiness check: the kubelet runs `stat /opt/random-generator-ready`
inside the container. The app creates that file once it listens; until the first `stat`
succeeds the pod is not Ready (the kubelet's readiness result starts as Failure). We probe
every second and let one failure count, so changes show within about a second.

*Book and kit:* the Health Probe chapter's listing checks `/var/run/random-generator-ready`,
but the image's application (`RandomGeneratorApplication.READINESS_FILE` in
k8spatterns/random-generator) creates `/opt/random-generator-ready` — the file probed here;
with the listing's path no pod would ever become Ready, on this lab or on a real cluster."""),
    code("""# NBVAL_CHECK_OUTPUT
print(open("manifests/readiness-deployment.yml").read())
print("\\n".join(lab.apply("manifests/readiness-deployment.yml", wait=True)))"""),
    code("""lab.get("pods", wide=True)"""),
    code("""pods = {p["metadata"]["name"]: p for p in lab.get("pods", selector="app=random-generator")}
pod_ips = {name: p["status"]["podIP"] for name, p in pods.items()}
cluster_ip = check_probe_and_ready_endpoints(lab, pods)
url = f"http://{cluster_ip}/"  # what the toolbox calls below"""),
    md("""Before touching anything: 60 requests from the `toolbox` pod to the Service, each stamped
with the time it was answered. All three pods take part."""),
    code("""ids = replica_ids(lab, "toolbox")
phase_before = lab.requests("toolbox", url, 60, stamp=True)
answered_before = who_answered(phase_before, ids)
plots.distribution(answered_before, "60 requests, all pods ready", expected=60 / 3)"""),
    code("""# P(a pod missing from 60) = 3 * (2/3)^60, about 1e-10
check_every_pod_answered(answered_before, pods)"""),
    md("""## The button

`readiness_toggle` (in `lab_kit/lab/widgets.py`) is an ipywidgets toggle for one pod. Clicking
it runs `curl -X POST http://<podIP>:8080/toggle-ready` in the `toolbox` pod — the app's own
switch, which deletes its ready file (or creates it again). Nothing else: the kubelet's next
`stat` fails, and the rest follows from that.

Click it if you run this notebook yourself; the cell after it does the same from code
(setting `toggle.value` runs the same handler), so the notebook also runs unattended."""),
    code("""victim = min(pods)  # the first pod by name
toggle = readiness_toggle(lab, victim, client="toolbox")
toggle"""),
    code("""flipped_off = time.time()
toggle.value = False  # the same as clicking: POST /toggle-ready from toolbox
# wait (at most 20 s) for Ready=False, the endpoint's ready=false, and every kube-proxy's sync:
took = wait_readiness(lab, victim, ready=False)
print(f"{victim} out of rotation {took:.1f} s after the click")"""),
    code("""check_running_but_not_ready(lab, victim, took)  # the ready file gone, within 10 s"""),
    md("""## The EndpointSlice keeps it — flagged

The EndpointSlice controller does not remove a pod that is merely not Ready: the endpoint
stays, with `serving: false` (the pod's Ready condition) and `ready: false` (serving and not
terminating), as upstream's `podToEndpoint` writes it. Consumers such as kube-proxy skip
endpoints that are not ready. In the picture, the not-ready endpoint is grey and dashed."""),
    code("""lab.draw_services()"""),
    code("""check_endpoint_flagged(lab, victim, pods, pod_ips)  # still listed, not ready"""),
    md("""## kube-proxy drops it on every node

The Service's `KUBE-SVC-…` chain now picks between two endpoints (1/2, then the other), and
the victim's `KUBE-SEP-…` chain is gone — on every node, since every node can be a client's."""),
    code("""chain = svc_chain("default/random-generator", "tcp")
print("\\n".join(lab.service_rules("random-generator", node="node1").rules(chain)))"""),
    code("""check_dropped_on_every_node(lab, pod_ips[victim], chain)  # node1, node2, node3"""),
    md("""## No traffic reaches it

We capture on all three pods while the toolbox makes 60 more requests. The victim's
capture stays empty: no connection is sent to it. (Its readiness probe leaves no trace
either: an `exec` probe runs `stat` inside the container, not over the network — an
`httpGet` probe would show the kubelet's requests from the node here.)"""),
    code("""with lab.capture_many(sorted(pods), packet_filter="tcp port 8080") as caps:
    phase_unready = lab.requests("toolbox", url, 60, stamp=True)
caps[victim].packets()"""),
    code("""answered_unready = who_answered(phase_unready, ids)
check_no_traffic_to_victim(answered_unready, caps, victim, pods)"""),
    md(
        """The pod is not broken, only out of the Service: called at its own address, it answers."""
    ),
    code("""direct = lab.exec("toolbox", "curl", "-s", f"http://{pod_ips[victim]}:8080/", echo=True)
print(direct)"""),
    code("""check_answers_directly(who_answered([direct.stdout], ids), victim, pod_ips[victim])"""),
    md("""## Back in rotation

Setting the toggle again makes the app recreate its file; the next `stat` succeeds, the pod
turns Ready, its endpoint `ready: true`, and kube-proxy adds it back everywhere."""),
    code("""flipped_on = time.time()
toggle.value = True  # click again
took = wait_readiness(lab, victim, ready=True)
print(f"{victim} back in rotation {took:.1f} s after the click")"""),
    code("""check_back_in_rules(lab, pod_ips[victim], chain)  # every endpoint ready, a DNAT to it on every node
phase_after = lab.requests("toolbox", url, 60, stamp=True)
answered_after = who_answered(phase_after, ids)
check_every_pod_answered(answered_after, pods)  # P(victim missing from 60) = (2/3)^60, about 1e-11"""),
    md("""## The whole experiment on one time axis

Every request of the three phases, by the pod that answered it; the red lines are the two
clicks. Between them, the victim's row is empty."""),
    code("""samples = stamped(phase_before + phase_unready + phase_after, ids)
t0 = float(phase_before[0].split()[0])
plots.timeline(samples, "Which pod answered each request to the Service",
               marks=[(flipped_off - t0, "not ready"), (flipped_on - t0, "ready again")])"""),
    code("""check_timeline(samples, victim, off=flipped_off - t0, on=flipped_on - t0)"""),
    md("""## What you saw

- The kubelet runs the exec readiness probe every `periodSeconds` and, after
  `failureThreshold` failures, sets the container and the pod's `Ready` condition to False
  (`lab_kit/node/probes.py`, run by `lab_kit/agents/pod_worker.py`; the conditions are
  computed in `lab_kit/node/podstatus.py`).
- The EndpointSlice controller keeps a not-Ready pod but flags it `serving: false`,
  `ready: false` (`lab_kit/controllers/endpointslice.py`).
- kube-proxy writes only ready endpoints into its chains, on every node
  (`lab_kit/render/proxy_endpoints.py`, `lab_kit/render/proxy_rules.py`), so new
  connections stop reaching the pod — which keeps running and answers at its own address.
- The button is `lab_kit/lab/widgets.py`: one POST to the app's `/toggle-ready`.

Next: `08-virtual-ip-and-kube-proxy.ipynb` — kube-proxy's chains one by one, and a packet
traced through them."""),
    md("""## Your turn

Two changes to the live cluster; each check says what it saw. `pods`, `pod_ips`, `url` and
`chain` are the variables from above."""),
    code("""from lab_kit.lab.exercises import check"""),
    *exercise(
        "07.1",
        "One pod left",
        "Take two of the three pods out of rotation, so that only one is Ready (POST "
        "`/toggle-ready` to each, as the button does).",
        "what will the `KUBE-SVC-…` chain on node1 look like with one ready endpoint: which "
        "probability will its rule carry? Who answers the toolbox's requests?",
        "for name in sorted(pods)[:2]:\n"
        '    lab.exec("toolbox", "curl", "-s", "-X", "POST", f"http://{pod_ips[name]}:8080/toggle-ready")\n'
        "    wait_readiness(lab, name, ready=False)\n"
        'print("\\n".join(lab.service_rules("random-generator", node="node1").rules(chain)))',
    ),
    *exercise(
        "07.2",
        "Nobody ready",
        "Take the last Ready pod out of rotation too.",
        "will the EndpointSlice be empty? What does the toolbox get from the ClusterIP: a "
        "timeout, a refusal, or an answer from a not-ready pod?",
        "last = sorted(pods)[2]\n"
        'lab.exec("toolbox", "curl", "-s", "-X", "POST", f"http://{pod_ips[last]}:8080/toggle-ready")\n'
        "wait_readiness(lab, last, ready=False)\n"
        "!labkit exec toolbox -- curl -sS -m 3 {url}",
    ),
    code("""lab.down()"""),
]
if __name__ == "__main__":
    write(cells, NOTEBOOK)
