"""Build labs/01-client-side-discovery.ipynb from these cells (then execute it so outputs are committed)."""

from nbbuild import code, exercise, md, write

NOTEBOOK = "labs/01-client-side-discovery.ipynb"  # the default output, from the repository root

cells = [
    md("""# 01 · Client-side discovery: a registry, and clients that do the work

**What you will see:** discovery as it was done before Kubernetes (Netflix Eureka, Spring
Cloud). Four instances of the book's random-generator *register themselves* in a service
registry and send it a heartbeat every second. A consumer *looks them up* every 5 seconds,
keeps the list in its own cache, picks an instance itself (round robin) and retries on
another when a connection fails. There is no Service in front of the producers: every
decision is the client's.

Then the ways this goes wrong, each on a timeline of the consumer's calls: a new instance
it does not see yet; an instance killed with `kill -9` that stays listed until its lease
runs out; a graceful shutdown; many instances dying at once, kept listed on purpose
(self-preservation); the registry itself down. Last, the same consumer written against the
Kubernetes API — readiness instead of heartbeats — and what lab 02's Service takes off the
client's hands.

The timings are Eureka's, shortened so a lifecycle takes seconds: heartbeats every 1 s
(Eureka: 30 s), leases of 5 s (90 s), eviction every 2 s (60 s), the consumer's fetch every
5 s (30 s). The manifests say so where they set them."""),
    code("""import time

from lab_kit import Lab
from lab_kit.lab.checks.lab01 import (check_all_answer, check_cancelled, check_dropped,
                                      check_evicted_later, check_k8s_watch, check_killed,
                                      check_new_instance, check_registered, check_registry_down,
                                      check_self_preservation)
from lab_kit.lab.ingress_lab import http_requests
from lab_kit.lab.registry_lab import (Consumer, Registry, answered_by, pod_names, producer, timeline,
                                      wait_for)

lab = Lab.up()
print("\\n".join(lab.apply("manifests/registry/eureka.yml", wait=True)))
reg = Registry(lab)"""),
    md("""## The registry, the producers, the consumer

The registry is Spring Cloud's sample Eureka server (`springcloud/eureka`, port 8761). The
producers find it by a name given to them in configuration — `eureka.client.serviceUrl.defaultZone`,
the env var `EUREKA_CLIENT_SERVICEURL_DEFAULTZONE` — which is the registry's own bootstrap
problem: something must have a well-known address. Here a Service named `eureka` gives it
one; before Kubernetes it was a DNS name or a list of addresses."""),
    code("""# NBVAL_CHECK_OUTPUT
print(open("manifests/registry/producers.yml").read().split("---")[0])"""),
    code("""print("\\n".join(lab.apply(["manifests/registry/producers.yml", "manifests/registry/consumer.yml"],
                            wait=True)))
con = Consumer(lab, "consumer")
wait_for(lambda: len(reg.instances()) == 4, "4 registered instances")
wait_for(lambda: len(con.cache()["instances"]) == 4, "the consumer's cache to hold 4")
names = pod_names(lab)
reg.instances()"""),
    md("""What the registry logged as the producers came up — Eureka's own lines:"""),
    code(
        """print("\\n".join(line for line in lab.logs(reg.pod).splitlines() if "Registered" in line))"""
    ),
    code("""ips = check_registered(reg, con, names)"""),
    md("""The consumer calls one instance every 200 ms, in turn. Which pod answered its last 40
calls:"""),
    code("""full = time.time()
recent = wait_for(lambda: (calls := con.calls(since=full))[39:] and calls[:40], "40 calls")
sorted(answered_by(recent, names))"""),
    code("""check_all_answer(recent, names)"""),
    md("""## (1) A new instance, unseen until the next fetch

We start a fifth producer while capturing the registry's traffic. It registers at once
(`POST /eureka/apps/RANDOM-GENERATOR`, answered 204) and sends a heartbeat every second
(`PUT .../{instanceId}`). The registry lists it immediately — but the consumer only learns
of it at its next fetch (`GET /eureka/apps`, every 5 s), and until then never calls it."""),
    code("""t1 = time.time()
with lab.capture(reg.pod, packet_filter="tcp port 8761") as at_registry:
    lab.apply(producer("producer-e"), wait=True)
    names = pod_names(lab)
    e = f"{lab.get('pods', 'producer-e')['status']['podIP']}:8080"
    wait_for(lambda: e in reg.instances(), "producer-e in the registry")
    registered = time.time()
    wait_for(lambda: e in con.cache()["instances"], "the consumer's next fetch", 15)
    fetched = con.cache()["fetched_at"]
    wait_for(lambda: "producer-e" in answered_by(con.calls(since=fetched), names), "a call to producer-e")
requests = http_requests(at_registry)
requests"""),
    code("""timeline(lab, con.calls(since=t1), t1, [(registered, "producer-e registered"),
                                        (fetched, "the consumer fetched")],
         "(1) producer-e is listed at once, called only after the consumer's fetch")"""),
    code("""check_new_instance(requests, e, ips, con.calls(since=t1), fetched, registered)"""),
    md("""## (2) Killed without a goodbye: listed until its lease runs out

`kill -9` gives a process no chance to run its shutdown hook: producer-e never cancels its
registration. The registry keeps listing it until its lease expires — and Eureka's lease
arithmetic counts the duration twice after a renewal (`Lease.renew` sets the last update to
*now + duration*, a bug kept for compatibility), so 2 × 5 s after the last heartbeat — and
then until the next eviction run (every 2 s). Meanwhile the consumer keeps calling it: each
call fails (red) and is retried on the next instance. Only the consumer's next fetch after
the eviction ends it."""),
    code("""t2 = time.time()
lab.kill("producer-e")
killed = time.time()
wait_for(lambda: e not in reg.instances(), "the lease to expire and eviction to run", 40)
evicted = [ev for ev in reg.events(since=t2) if ev["event"] == "evicted"][0]["t"]
wait_for(lambda: e not in con.cache()["instances"], "the consumer's next fetch", 15)
forgotten = con.cache()["fetched_at"]
calls2 = con.calls(since=t2)
timeline(lab, calls2, t2, [(killed, "kill -9"), (evicted, "evicted"), (forgotten, "consumer fetched")],
         "(2) producer-e killed: failed calls until its lease expired and the consumer fetched again")"""),
    code(
        """print("\\n".join(line for line in lab.logs(reg.pod).splitlines() if "Evicting" in line or "expired lease" in line))"""
    ),
    code("""check_killed(calls2, e, killed, evicted, forgotten)  # the 2 x lease quirk"""),
    md("""## (3) A graceful shutdown: removed at once

Deleting a pod sends its process SIGTERM; the app's shutdown hook runs, and the Eureka
client cancels its registration (`DELETE /eureka/apps/RANDOM-GENERATOR/{id}`). The registry
forgets it at once. The consumer still holds it until its next fetch — here we ask it to
refresh now (a teaching shortcut; Eureka clients have no such button)."""),
    code("""t3 = time.time()
d = f"{ips['producer-d']}:8080"
print("\\n".join(lab.delete("pods", "producer-d")))
wait_for(lambda: d not in reg.instances(), "producer-d to cancel", 10)
cancelled = [ev for ev in reg.events(since=t3) if ev["event"] == "cancelled"][0]["t"]
con.refresh()
wait_for(lambda: d not in con.cache()["instances"], "the consumer's refresh", 5)
print("\\n".join(line for line in lab.logs(reg.pod).splitlines() if "Cancelled" in line))"""),
    code(
        """check_cancelled(reg, t3, cancelled, d, evicted - killed)  # not a lease later: at once"""
    ),
    md("""## (4) Many die at once: self-preservation keeps them

A registry cannot tell a dead instance from a network between them. Eureka's answer: if far
fewer heartbeats arrive than expected — no more than `renewal-percent-threshold` of them —
it assumes the network is the problem and **stops evicting** (self-preservation). We kill
two of the three producers left. Their leases expire, and they stay listed; the registry's
dashboard shows its famous banner, and the consumer keeps failing over.

(With Eureka's default threshold of 0.85, a registry this small would protect even the one
dead instance of (2): Spring Cloud counts one client more than registered. That is why the
manifest lowers it to 0.45.)"""),
    code("""t4 = time.time()
lab.kill("producer-b")
lab.kill("producer-c")
killed4 = time.time()
b, c = f"{ips['producer-b']}:8080", f"{ips['producer-c']}:8080"
held = wait_for(lambda: [ev for ev in reg.events(since=t4) if ev["event"] == "self-preservation"],
                "the registry to hold expired leases", 40)[0]
print(held)
print(reg.dashboard().split("<h2>")[0].replace("<br>", "\\n"))"""),
    code("""check_self_preservation(reg, [b, c], held, killed4, t4)  # expired, and kept"""),
    md("""Heartbeats coming back end it. Three new producers register; once the renewals of a
whole window exceed the threshold again, eviction resumes and the two dead ones go."""),
    code("""lab.apply([producer("producer-f"), producer("producer-g"), producer("producer-h")], wait=True)
wait_for(lambda: b not in reg.instances() and c not in reg.instances(), "eviction to resume", 40)
recovered = time.time()
wait_for(lambda: not {b, c} & set(con.cache()["instances"]), "the consumer's next fetch", 15)
calls4 = con.calls(since=t4)
timeline(lab, calls4, t4, [(killed4, "b and c killed"), (held["t"], "self-preservation"),
                           (recovered, "b and c evicted")],
         "(4) two of three killed: listed while self-preservation held them")"""),
    code("""check_evicted_later(reg, t4, [b, c], calls4, recovered - killed4)"""),
    md("""## (5) The registry down

We scale the registry to zero. The consumer's fetches fail, and it **keeps its last copy**:
it goes on calling the producers it knew. The producers' heartbeats fail. When a new
registry starts, it knows nobody (its registry lives in memory): each producer's next
heartbeat is answered 404, and the client registers again."""),
    code("""t5 = time.time()
eureka = open("manifests/registry/eureka.yml").read()
print("\\n".join(lab.apply(eureka.replace("replicas: 1", "replicas: 0"), wait=True)))
wait_for(lambda: not lab.get("pods", selector="app=eureka"), "the registry pod to go")
wait_for(lambda: con.cache()["last_error"], "a failed fetch", 15)
down = time.time()
print(con.cache())"""),
    code("""wait_for(lambda: len(con.calls(since=down)) >= 10, "more calls from the cache")
print("\\n".join(lab.apply(eureka, wait=True)))
wait_for(lambda: len(reg.instances()) == 4, "the producers to register again", 20)
back = time.time()
wait_for(lambda: not con.cache()["last_error"] and con.cache()["fetched_at"] > back, "a fetch that works", 15)
calls5 = con.calls(since=t5)
timeline(lab, calls5, t5, [(down, "fetch failed"), (back, "re-registered")],
         "(5) registry down: the consumer calls from its cache")"""),
    code("""print("\\n".join(line for line in lab.logs("producer-a").splitlines()
                if "heartbeat" in line or "Re-registering" in line)[-600:])"""),
    code(
        """check_registry_down(lab, reg, calls5, down, back)  # served from the cache; 404, then register"""
    ),
    md("""## The same consumer, on the Kubernetes API

Inside Kubernetes the registry is the API server: the EndpointSlice controller keeps, per
Service, the addresses of its **ready** pods. A client can watch them (as gRPC resolvers
and Spring Cloud Kubernetes do) with nothing but what every pod gets: the
`KUBERNETES_SERVICE_HOST`/`PORT` variables (lab 03) — the `kubernetes` Service, whose
endpoint is the API server's secure port, 172.18.0.2:6443 — and the service account's
token and CA in `/var/run/secrets/kubernetes.io/serviceaccount`.

The producers register nothing and send no heartbeats: the kubelet's readiness probe
decides. (On a real cluster the pod's `default` ServiceAccount also needs a Role allowing
`list` and `watch` on `endpointslices`, bound with a RoleBinding; the lab's API server
checks no RBAC. A request without a token is refused as the real one refuses it.)"""),
    code("""print("\\n".join(lab.apply(["manifests/readiness-deployment.yml", "manifests/book/service.yml",
                            "manifests/registry/k8s-consumer.yml"], wait=True)))
k8s = Consumer(lab, "k8s-consumer")
wait_for(lambda: len(k8s.cache()["instances"]) == 3, "the watch to list 3 ready pods")
lab.exec("k8s-consumer", "ls", "/var/run/secrets/kubernetes.io/serviceaccount")"""),
    code("""lab.get("endpointslices", "kubernetes")["endpoints"]"""),
    code("""check_k8s_watch(lab, k8s)"""),
    md("""Now one pod stops being ready (`/toggle-ready` removes its ready file; the probe runs
every second). The change reaches the consumer through the watch as the EndpointSlice
changes — no lease to wait for, no fetch interval — and the pod, still running, is simply
no longer called. A deleted pod goes the same way."""),
    code("""t6 = time.time()
target = lab.get("pods", selector="app=random-generator")[0]
target_ip = target["status"]["podIP"]
lab.exec(target["metadata"]["name"], "curl", "-s", "-X", "POST", "localhost:8080/toggle-ready")
wait_for(lambda: f"{target_ip}:8080" not in k8s.cache()["instances"], "the watch to drop the pod", 10)
dropped = time.time()
wait_for(lambda: len(k8s.calls(since=dropped + 0.5)) >= 10, "ten more calls")
calls6 = k8s.calls(since=t6)
timeline(lab, calls6, t6, [(dropped, "not ready: out of the cache")],
         "Kubernetes API: a pod not ready leaves the consumer's cache within a probe period")"""),
    code(
        """check_dropped(calls6, t6, dropped, target_ip)  # it still ran: it was just no longer chosen"""
    ),
    md("""## What you saw

- **Client-side discovery** (Eureka): producers register and heartbeat
  (`lab_kit/workloads/registry_client.py`, called from the random-generator when
  `EUREKA_CLIENT_SERVICEURL_DEFAULTZONE` is set); the registry keeps leases, evicts expired
  ones and protects them when heartbeats drop (`registry_core.py`, served by
  `registry_server.py` as `springcloud/eureka`); the consumer fetches, caches, round-robins
  and retries (`discovery_consumer.py`). The helpers of this lab are in
  `lab_kit/lab/registry_lab.py`.
- The failure modes are the client's to handle: a cache behind the registry (1), a dead
  instance listed for two lease durations plus an eviction run (2), a graceful exit that
  only the registry hears at once (3), self-preservation keeping the dead listed (4), and
  a registry outage ridden out on stale data (5).
- The same idea on the Kubernetes API (`endpoints_watch.py`): the in-cluster files
  (`lab_kit/api/serviceaccounts.py`, the kubelet's `pod_worker.py`), the `kubernetes`
  Service to the API server's secure port (`lab_kit/agents/apiserver_secure.py`,
  `lab_kit/api/authn.py`), readiness instead of heartbeats, changes as they happen.

What lab 02's Service takes off the client's hands: the library in every client, the
cache, the load balancing and the retry. The client calls one stable address; kube-proxy
picks a ready pod for each connection, and the list behind it follows the EndpointSlices.

Next: `02-clusterip-service.ipynb`."""),
    md("""## Your turn

Two changes on the live lab: one for each kind of registry. Each check looks at the
registry, the consumers' caches and their calls, and says what it saw."""),
    code("""from lab_kit.lab.exercises import check"""),
    *exercise(
        "01.1",
        "Out of service, still running",
        "Eureka can take an instance out of rotation without stopping it: `PUT "
        "/eureka/apps/RANDOM-GENERATOR/{instanceId}/status?value=OUT_OF_SERVICE` on the "
        "registry sets a status override (the instance id is `IP:random-generator:8080`). Do "
        "it for `producer-a`, with curl in the registry's pod (`reg.pod`).",
        "does the registry still list producer-a? Does its lease run out? When does the "
        "consumer stop calling it?",
        'a_ip = lab.get("pods", "producer-a")["status"]["podIP"]\n'
        'url = f"http://localhost:8761/eureka/apps/RANDOM-GENERATOR/{a_ip}:random-generator:8080"\n'
        'put = lab.exec(reg.pod, "curl", "-s", "-w", "%{http_code}", "-X", "PUT",\n'
        '               f"{url}/status?value=OUT_OF_SERVICE", echo=True)\n'
        "print(put.stdout)",
    ),
    *exercise(
        "01.2",
        "Scaled, and found by the watch",
        "Scale the Deployment `random-generator` (the pods the `k8s-consumer` watches) from 3 "
        "to 5 replicas.",
        "how many instances will the k8s-consumer list (one pod is still not ready), and what "
        "did the new pods have to do to get there?",
        "!labkit scale deployment/random-generator --replicas=5",
    ),
    code("""lab.down()"""),
]
if __name__ == "__main__":
    write(cells, NOTEBOOK)
