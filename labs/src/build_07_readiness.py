"""Build labs/07-readiness.ipynb from these cells (then execute it so outputs are committed)."""

from nbbuild import code, md, write

NOTEBOOK = "labs/07-readiness.ipynb"  # the default output, from the repository root

cells = [
    md("""# 07 · Readiness: a failing probe takes a pod out of rotation

**What you will see:** three `random-generator` replicas with the book's exec readiness
probe behind the seed's Service, and a button that makes one of them fail its probe. The
kubelet marks the pod not Ready, the EndpointSlice keeps it but flags it `ready: false`,
every node's kube-proxy drops it from its rules, and requests to the Service stop reaching
it — while the pod itself runs on and answers anyone who calls its own address. Press the
button again and it comes back. A timeline shows which pod answered every request."""),
    code("""import time

from lab_kit import Lab
from lab_kit.lab import plots
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
every second and let one failure count, so changes show within about a second."""),
    code("""# NBVAL_CHECK_OUTPUT
print(open("manifests/readiness-deployment.yml").read())
print("\\n".join(lab.apply("manifests/readiness-deployment.yml", wait=True)))"""),
    code("""lab.get("pods", wide=True)"""),
    code("""pods = {p["metadata"]["name"]: p for p in lab.get("pods", selector="app=random-generator")}
pod_ips = {name: p["status"]["podIP"] for name, p in pods.items()}
probe = pods[min(pods)]["spec"]["containers"][0]["readinessProbe"]
assert probe["exec"]["command"] == ["stat", "/opt/random-generator-ready"]
assert (probe["periodSeconds"], probe["failureThreshold"]) == (1, 1)
assert (probe["timeoutSeconds"], probe["successThreshold"]) == (1, 1)  # defaulted
slices = lab.get("endpointslices", selector="kubernetes.io/service-name=random-generator")
conditions = {e["targetRef"]["name"]: e["conditions"] for s in slices for e in s["endpoints"]}
assert len(pods) == 3 and len(conditions) == 3
assert all(c == {"ready": True, "serving": True, "terminating": False} for c in conditions.values())
cluster_ip = lab.get("services", "random-generator")["spec"]["clusterIP"]
url = f"http://{cluster_ip}/"
print("3 pods Ready, 3 ready endpoints behind", cluster_ip)"""),
    md("""Before touching anything: 60 requests from the `toolbox` pod to the Service, each stamped
with the time it was answered. All three pods take part."""),
    code("""ids = replica_ids(lab, "toolbox")
phase_before = lab.requests("toolbox", url, 60, stamp=True)
answered_before = who_answered(phase_before, ids)
plots.distribution(answered_before, "60 requests, all pods ready", expected=60 / 3)"""),
    code("""assert set(answered_before) == set(pods)  # P(a pod missing from 60) = 3 * (2/3)^60, about 1e-10
print({pod: answered_before.count(pod) for pod in sorted(pods)})"""),
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
    code("""toolbox_ip = lab.get("pods", "toolbox")["status"]["podIP"]
assert lab.exec(victim, "test", "-e", "/opt/random-generator-ready").returncode == 1  # file gone
assert f"POST /toggle-ready -> 200 ({toolbox_ip}:" in lab.logs(victim)  # the app logged the click
pod = lab.get("pods", victim)
ready = {c["type"]: c for c in pod["status"]["conditions"]}["Ready"]
assert (ready["status"], ready["reason"]) == ("False", "ContainersNotReady")
assert pod["status"]["phase"] == "Running"  # still running...
assert pod["status"]["containerStatuses"][0]["ready"] is False  # ...but not ready
assert took < 10
print(f"{victim}: Running, but Ready={ready['status']} ({ready['reason']})")"""),
    md("""## The EndpointSlice keeps it — flagged

The EndpointSlice controller does not remove a pod that is merely not Ready: the endpoint
stays, with `serving: false` (the pod's Ready condition) and `ready: false` (serving and not
terminating), as upstream's `podToEndpoint` writes it. Consumers such as kube-proxy skip
endpoints that are not ready. In the picture, the not-ready endpoint is grey and dashed."""),
    code("""lab.draw_services()"""),
    code("""slices = lab.get("endpointslices", selector="kubernetes.io/service-name=random-generator")
conditions = {e["targetRef"]["name"]: e["conditions"] for s in slices for e in s["endpoints"]}
assert set(conditions) == set(pods)  # still listed...
assert conditions[victim] == {"ready": False, "serving": False, "terminating": False}  # ...not ready
assert all(c["ready"] for name, c in conditions.items() if name != victim)
print(f"{victim} ({pod_ips[victim]}): {conditions[victim]}")"""),
    md("""## kube-proxy drops it on every node

The Service's `KUBE-SVC-…` chain now picks between two endpoints (1/2, then the other), and
the victim's `KUBE-SEP-…` chain is gone — on every node, since every node can be a client's."""),
    code("""chain = svc_chain("default/random-generator", "tcp")
print("\\n".join(lab.service_rules("random-generator", node="node1").rules(chain)))"""),
    code("""for node in ("node1", "node2", "node3"):
    rules = lab.service_rules("random-generator", node=node)
    assert pod_ips[victim] not in str(rules), node
    assert sum("DNAT --to-destination" in r for r in rules.lines) == 2
    assert sum("--probability 0.5" in r for r in rules.rules(chain)) == 1
print(f"{pod_ips[victim]} is in no rule on node1, node2 or node3; 2 endpoints left")"""),
    md("""## No traffic reaches it

We capture on all three pods while the toolbox makes 60 more requests. The victim's
capture stays empty: no connection is sent to it. (Its readiness probe leaves no trace
either: an `exec` probe runs `stat` inside the container, not over the network — an
`httpGet` probe would show the kubelet's requests from the node here.)"""),
    code("""with lab.capture_many(sorted(pods), packet_filter="tcp port 8080") as caps:
    phase_unready = lab.requests("toolbox", url, 60, stamp=True)
caps[victim].packets()"""),
    code("""answered_unready = who_answered(phase_unready, ids)
assert victim not in answered_unready and "ERR" not in answered_unready
assert set(answered_unready) == set(pods) - {victim}
assert not caps[victim].packets()
assert caps.with_connections() == sorted(set(pods) - {victim})
print("60 requests:", {pod: answered_unready.count(pod) for pod in sorted(pods)})"""),
    md(
        """The pod is not broken, only out of the Service: called at its own address, it answers."""
    ),
    code("""direct = lab.exec("toolbox", "curl", "-s", f"http://{pod_ips[victim]}:8080/", echo=True)
print(direct)"""),
    code("""assert who_answered([direct.stdout], ids) == [victim]
print(f"{victim} still answers at {pod_ips[victim]}:8080")"""),
    md("""## Back in rotation

Setting the toggle again makes the app recreate its file; the next `stat` succeeds, the pod
turns Ready, its endpoint `ready: true`, and kube-proxy adds it back everywhere."""),
    code("""flipped_on = time.time()
toggle.value = True  # click again
took = wait_readiness(lab, victim, ready=True)
print(f"{victim} back in rotation {took:.1f} s after the click")"""),
    code("""slices = lab.get("endpointslices", selector="kubernetes.io/service-name=random-generator")
assert all(e["conditions"]["ready"] for s in slices for e in s["endpoints"])
for node in ("node1", "node2", "node3"):
    rules = lab.service_rules("random-generator", node=node)
    assert f"--to-destination {pod_ips[victim]}:8080" in str(rules) and len(rules.rules(chain)) == 4
phase_after = lab.requests("toolbox", url, 60, stamp=True)
answered_after = who_answered(phase_after, ids)
assert set(answered_after) == set(pods)  # P(victim missing from 60) = (2/3)^60, about 1e-11
print("60 requests:", {pod: answered_after.count(pod) for pod in sorted(pods)})"""),
    md("""## The whole experiment on one time axis

Every request of the three phases, by the pod that answered it; the red lines are the two
clicks. Between them, the victim's row is empty."""),
    code("""samples = stamped(phase_before + phase_unready + phase_after, ids)
t0 = float(phase_before[0].split()[0])
plots.timeline(samples, "Which pod answered each request to the Service",
               marks=[(flipped_off - t0, "not ready"), (flipped_on - t0, "ready again")])"""),
    code("""off, on = flipped_off - t0, flipped_on - t0
assert len(samples) == 180 and "ERR" not in {p for _, p in samples}
victim_times = [t for t, p in samples if p == victim]
assert not [t for t in victim_times if off < t < on]  # the victim answered nothing in between
assert min(victim_times) < off and max(victim_times) > on  # but before and after
print(f"{victim}: {sum(t < off for t in victim_times)} answers before, 0 while not ready, "
      f"{sum(t > on for t in victim_times)} after")"""),
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
    code("""lab.down()"""),
]
if __name__ == "__main__":
    write(cells, NOTEBOOK)
