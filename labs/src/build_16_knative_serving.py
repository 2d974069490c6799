"""Build labs/16-knative-serving.ipynb from these cells (then execute it so outputs are committed)."""

from nbbuild import code, exercise, md, write

NOTEBOOK = "labs/16-knative-serving.ipynb"  # the default output, from the repository root

cells = [
    md("""# 16 · Knative Serving: a Service that scales to zero

**What you will see:** the chapter's last pointer, Knative Serving, built on the same
discovery machinery. One short manifest — an image, no replicas, no ports — becomes a URL,
`http://hello.default.example.com`, that the outside `client` calls through the lab's
ingress. When nobody calls, the pods go away (**zero pods**) and the URL stays the same:
an **activator** steps into the data path, holds the next request, asks the
**autoscaler** for a pod, waits for it to be ready and forwards — the client sees one slow
200, never an error. A capture in the activator's pod shows it holding the request. Then a
burst of concurrent requests scales a Revision up, a new Revision takes 10 % of the
traffic (measured over 500 requests), and `min-scale: 1` keeps a pod for good.

Knative's timings are long on purpose (a 60 s window, a 30 s grace period); this lab
shortens them to 6 s each, Knative's minimum, so the cycle takes ~15 s."""),
    code("""import time

from lab_kit import Lab
from lab_kit.lab import knative_lab, plots
from lab_kit.lab.checks.lab16 import (check_answer, check_burst, check_cold_start_held,
                                      check_knative_installed, check_min_scale_kept,
                                      check_objects_of_a_service, check_scaled_to_zero, check_split)
from lab_kit.lab.knative_lab import Watcher, call, wait_pods, wait_ready

HOST = "hello.default.example.com"

lab = Lab.up(addons=["ingress", "knative"])
ADDRESS = knative_lab.ingress_address(lab)
print("\\n".join(lab.apply("manifests/knative/config-autoscaler.yml", wait=True)))"""),
    md("""## What the `knative` addon installed

Knative Serving's own parts, in the namespace `knative-serving`: the **activator** (holds
requests for Revisions without pods), the **autoscaler** (Knative's KPA: how many pods each
Revision wants) and a **gateway**, Knative's ingress (in a real install Kourier or Istio's
gateway), which routes by Host header and splits traffic between Revisions. From outside,
the lab's ingress-nginx (lab 14) sends every host it has no rule for to that gateway. The
controllers that turn Knative's objects into Deployments and Services run in the lab's
controller-manager, as Knative's `controller` Deployment would."""),
    code("""lab.get("pods", namespace="knative-serving")"""),
    code("""check_knative_installed(lab, ADDRESS)"""),
    md("""## One manifest: a Knative Service

`serving.knative.dev/v1` `Service` (`ksvc` for short — not the core Service of lab 02):
Knative's Hello World with `TARGET=v1`. No replicas, no port, no selector."""),
    code("""# NBVAL_CHECK_OUTPUT
print(open("manifests/knative/hello.yml").read())
print("\\n".join(lab.apply("manifests/knative/hello.yml", wait=True)))"""),
    code("""wait_ready(lab, "hello")
lab.get("ksvc")"""),
    md("""The Knative Service made a **Configuration** (the template) and a **Route** (the
traffic); the Configuration stamped an immutable **Revision**, `hello-00001`. The Revision
runs as an ordinary Deployment whose pods carry a second container, Knative's
**queue-proxy**, in front of the app. Two core Services: `hello-00001-private` selects the
pods; `hello-00001` has no selector — its endpoints are written by the
**ServerlessService** (SKS), and point either at the pods (`Serve`) or at the activator
(`Proxy`). `hello` is an ExternalName to the gateway: the cluster-local name."""),
    code(
        """print(lab.get("configurations"), lab.get("revisions"), lab.get("routes"), sep="\\n\\n")"""
    ),
    code(
        """print(lab.get("deployments"), lab.get("services"), lab.get("serverlessservices"), sep="\\n\\n")"""
    ),
    code("""check_objects_of_a_service(lab)"""),
    md("""## Its URL, from outside

The client calls the ingress' address with `Host: hello.default.example.com`: ingress-nginx
→ Knative's gateway → the Revision's public Service → (activator or pod) → queue-proxy →
the app."""),
    code("""first = call(ADDRESS, HOST)
first"""),
    code("""check_answer(first, HOST, ADDRESS)"""),
    md("""## Idle: down to zero pods, same address

Nobody calls now. The autoscaler averages the concurrency it scrapes from the queue-proxies
and the activator over the **stable window** (6 s here); once that average is 0 it makes
sure the activator is in the path (SKS → `Proxy`), waits the **scale-to-zero grace
period** (6 s), then asks for 0 pods. The plot shows the pods and what the autoscaler
wanted; the shaded band is the time the activator stands in the data path — here all
along: with Knative's default `target-burst-capacity` (200 concurrent requests), one pod
is never spare capacity enough to leave the activator out (the burst below sets it to 0)."""),
    code("""with Watcher(lab, "hello-00001") as idle:
    seconds = wait_pods(lab, "hello-00001", 0, timeout_s=60)
plots.scaling(idle.samples, "hello-00001 while nobody calls")"""),
    code(
        """activator = check_scaled_to_zero(lab, HOST, seconds)  # the Revision's address leads to the activator"""
    ),
    md("""## A request at zero: the activator holds it

Now call once, while capturing in the activator's pod (its port 8012). The request arrives
from the gateway; the activator has nowhere to send it, so it tells the autoscaler
(`/poke`), which wants a pod at once; the kubelet starts one (both containers), its
readiness probe passes, the pod's address appears in `hello-00001-private`'s endpoints —
and only then does the activator open a connection to it. The client waits, then gets its
200: a **cold start**."""),
    code("""activator_pod = lab.get("pods", namespace="knative-serving", selector="app=activator")[0]["metadata"]["name"]
with lab.capture(activator_pod, namespace="knative-serving", packet_filter="tcp port 8012") as cap:
    cold = call(ADDRESS, HOST)
print(cold)
cap.packets().syns()"""),
    md("""Three connections: the gateway's to the activator (the request), the kubelet's
readiness probe of the activator itself (from the node's address, once a second), and — over
a second later — the activator's own to the new pod."""),
    code("""check_cold_start_held(lab, cold, cap.packets(), activator)"""),
    md("""## A burst: scaling up

The `autoscale` sample holds each request (`?sleep=1000`) and takes one at a time
(`containerConcurrency: 1`), so ten concurrent requests are ten units of concurrency
against a target of 1 × 70 % per pod: the autoscaler **panics** (the panic window, 10 % of the
stable window, is over twice the target) and scales straight to `max-scale: 5`. `target-burst-capacity: 0`
takes the activator out of the path as soon as pods are ready (SKS `Serve`). All ten
requests start at zero pods; all ten get 200. The dotted line is how many requests the
activator holds: the whole burst, until the first pods are ready."""),
    code("""print(open("manifests/knative/autoscale.yml").read())
print("\\n".join(lab.apply("manifests/knative/autoscale.yml", wait=True)))
wait_ready(lab, "autoscale")
wait_pods(lab, "autoscale-00001", 0, timeout_s=60)  # from zero, as hello was"""),
    code("""with Watcher(lab, "autoscale-00001") as burst:
    burst.mark("10 requests")
    answers = call(ADDRESS, "autoscale.default.example.com", count=10, parallel=True, path="/?sleep=1000")
    wait_pods(lab, "autoscale-00001", 0, timeout_s=60)
print(answers)
plots.scaling(burst.samples, "autoscale-00001: a burst of 10 concurrent requests at zero", burst.marks)"""),
    code("""check_burst(answers, burst.samples)"""),
    md("""## A new Revision, 10 % of the traffic

Change the template (`TARGET=v2`): the Configuration stamps `hello-00002`. The `traffic`
block keeps 90 % on `hello-00001` and sends 10 % to the latest Revision, also reachable on
its own through the tag `candidate` (`candidate-hello.default.example.com`). The gateway
draws a Revision for each request by those weights."""),
    code("""# NBVAL_CHECK_OUTPUT
print(open("manifests/knative/hello-v2.yml").read())
print("\\n".join(lab.apply("manifests/knative/hello-v2.yml", wait=True)))"""),
    code("""wait_ready(lab, "hello", "hello-00002")
print(lab.get("revisions"), lab.get("routes", "hello")["status"]["traffic"], sep="\\n\\n")"""),
    code("""many = call(ADDRESS, HOST, count=500)
shares = knative_lab.split(many)
plots.distribution([c.body.strip() for c in many], "500 requests to hello.default.example.com",
                   pods=["Hello v1!", "Hello v2!"], ylabel="answers")"""),
    code("""tagged = knative_lab.split(call(ADDRESS, "candidate-hello.default.example.com", count=5))
check_split(shares, tagged)"""),
    md("""## `min-scale: 1`: never to zero

A Revision annotated `autoscaling.knative.dev/min-scale: "1"` keeps one pod however idle it
is: no cold start, at the cost of a pod that always runs. `always` is the same app with that
annotation; we wait as long as `hello` needed to reach zero, and more."""),
    code("""always = {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": {"name": "always"},
          "spec": {"template": {"metadata": {"annotations": {"autoscaling.knative.dev/min-scale": "1"}},
                                "spec": {"containers": [{"image": "ghcr.io/knative/helloworld-go"}]}}}}
lab.apply(always, wait=True)
wait_ready(lab, "always")
with Watcher(lab, "always-00001") as kept:
    time.sleep(20)  # idle for longer than window + grace: the passing time is the point
plots.scaling(kept.samples, "always-00001 (min-scale 1) while nobody calls")"""),
    code("""check_min_scale_kept(lab, kept.samples)"""),
    md("""## What you saw

- A Knative **Service** is a Configuration (its template, one immutable Revision per
  change) and a Route (a URL and a traffic split); the controllers are
  `lab_kit/controllers/knative_serving.py` and `knative_revision.py`, the defaults and the
  webhook's validation `lab_kit/model/knative.py`.
- A **Revision** is a Deployment, its pods with a **queue-proxy**
  (`lab_kit/workloads/queue_proxy.py`) — and two core Services. The ServerlessService picks
  who is behind the public one: the pods, or the **activator**
  (`lab_kit/agents/knative_activator.py`, its waiting room `knative_buffer.py`).
- The **autoscaler** (`lab_kit/agents/knative_autoscaler.py`, its decisions
  `lab_kit/controllers/kpa.py`) scrapes concurrency, averages it over a stable and a panic
  window, scales to zero after the grace period and from zero at the activator's poke.
- The **gateway** (`lab_kit/agents/knative_gateway.py`) routes by Host and splits by
  percent; this lab's helpers are in `lab_kit/lab/knative_lab.py`.

Back to the chapter: this is the same Service idea one level higher. A core Service gives a
set of pods one stable virtual IP and a DNS name and lets kube-proxy choose a pod; a
Knative Service gives an *application* one stable URL and lets the platform choose the
Revision, the number of pods — zero included — and whether anything stands in between.
Discovery stays exactly what the earlier labs showed: names, Services and EndpointSlices."""),
    md("""## Your turn

One change on the live cluster; the check calls the URL 100 times."""),
    code("""from lab_kit.lab.exercises import check"""),
    *exercise(
        "16.1",
        "Half and half",
        "Change `hello`'s traffic to 50 % for `hello-00001` and 50 % for the latest Revision "
        "(keep the template as it is, or a third Revision is stamped).",
        "does any Revision need a new pod? How close to 50 of 100 will v2 come?",
        'template = lab.get("ksvc", "hello")["spec"]["template"]  # unchanged: no new Revision\n'
        'hello = {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": {"name": "hello"},\n'
        '         "spec": {"template": template,\n'
        '                  "traffic": [{"revisionName": "hello-00001", "percent": 50},\n'
        '                              {"latestRevision": True, "percent": 50, "tag": "candidate"}]}}\n'
        'print("\\n".join(lab.apply(hello, wait=True)))\n'
        'wait_ready(lab, "hello", "hello-00002")',
    ),
    code("""lab.down()"""),
]
if __name__ == "__main__":
    write(cells, NOTEBOOK)
