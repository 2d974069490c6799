"""Build labs/06-session-affinity.ipynb from these cells (then execute it so outputs are committed)."""

from nbbuild import code, exercise, md, write

NOTEBOOK = "labs/06-session-affinity.ipynb"  # the default output, from the repository root

cells = [
    md("""# 06 · Session affinity: ClientIP stickiness and its timeout

**What you will see:** the book's four `random-generator` replicas behind the labs'
ClusterIP Service (lab 02), first with the default `sessionAffinity: None` (every new connection is balanced
afresh), then with `sessionAffinity: ClientIP` (every connection from one client IP goes to
the same pod). You will read the `recent` rules kube-proxy adds for it and the kernel's
list of recently seen clients behind them, see that affinity is per client IP (ten more
clients on all three nodes each stick to their own pod), and shrink the affinity window to
3 s to watch a client be balanced afresh after a silence — and *not* while it keeps
connecting."""),
    code("""import time

from lab_kit import Lab
from lab_kit.lab import plots
from lab_kit.lab.checks.lab06 import (check_client_ip, check_kept_connecting, check_kernel_memory,
                                      check_node2_memory, check_none_spreads,
                                      check_one_pod_on_wire, check_per_client, check_rebalanced,
                                      check_recent_rules, check_timeline, check_window_refused,
                                      check_window_rules)
from lab_kit.lab.random_generator import replica_ids, stamped, who_answered
from lab_kit.render.proxy_rules import sep_chain, svc_chain

lab = Lab.up()
print("\\n".join(lab.apply(["manifests/book/deployment.yml", "manifests/toolbox.yml",
                            "manifests/clusterip-service.yml"], wait=True)))"""),
    md("""## `sessionAffinity: None`: every connection is a new draw

The labs' Service (`manifests/clusterip-service.yml`) does not set `sessionAffinity`, so the API server defaults it to `None`.
100 requests from the `toolbox` pod on node1 spread over all four pods, as in lab 02."""),
    code("""svc = lab.get("services", "random-generator")
cluster_ip = svc["spec"]["clusterIP"]
url = f"http://{cluster_ip}/"
ids = replica_ids(lab, "toolbox")
spread = who_answered(lab.requests("toolbox", url, 100), ids)
plots.distribution(spread, "sessionAffinity: None — 100 requests from toolbox", expected=100 / 4)"""),
    code(
        """check_none_spreads(svc["spec"], spread)  # each pod more than 5, fewer than 50 of 100"""
    ),
    md("""## `sessionAffinity: ClientIP`: one client, one pod

`manifests/affinity-service.yml` is the same Service with `sessionAffinity: ClientIP`. The
API server fills in `sessionAffinityConfig.clientIP.timeoutSeconds: 10800` (3 hours)."""),
    code("""# NBVAL_CHECK_OUTPUT
print(open("manifests/affinity-service.yml").read())
print("\\n".join(lab.apply("manifests/affinity-service.yml", wait=True)))"""),
    code("""sticky_answers = who_answered(lab.requests("toolbox", url, 100), ids)
plots.distribution(sticky_answers, "sessionAffinity: ClientIP — 100 requests from toolbox")"""),
    code(
        """sticky = check_client_ip(lab, cluster_ip, sticky_answers)  # timeoutSeconds defaulted"""
    ),
    md("""## The rules behind it: `-m recent`

kube-proxy adds two things (as upstream's `pkg/proxy/iptables/proxier.go` does). In the
Service's `KUBE-SVC-…` chain, *before* the random `statistic` rules, one rule per endpoint:
`-m recent --name KUBE-SEP-… --rcheck --seconds 10800 --reap` — "was this source address
seen in that endpoint's list within the last 10800 s? then go straight to that endpoint".
And in each `KUBE-SEP-…` chain the DNAT rule carries `-m recent --name KUBE-SEP-… --set`,
which records the client's address in that endpoint's list. The first connection falls
through to the random rules; every later one hits the `--rcheck` rule of the same pod."""),
    code("""rules = lab.service_rules("random-generator", node="node1")
chain = svc_chain("default/random-generator", "tcp")
print("\\n".join(rules.rules(chain)))"""),
    code("""pods = lab.get("pods", selector="app=random-generator")
pod_ips = {p["metadata"]["name"]: p["status"]["podIP"] for p in pods}
sep_of = {pod: sep_chain("default/random-generator", "tcp", f"{ip}:8080") for pod, ip in pod_ips.items()}
check_recent_rules(rules, chain, sep_of)"""),
    md("""## The kernel's memory: `/proc/net/xt_recent`

Each list lives in the kernel of the node that does the DNAT — the *client's* node — and can
be read as a file. The sticky pod's list on node1 holds one entry: the toolbox pod's
address, its TTL, `last_seen` (in jiffies, the kernel's clock ticks) and the times of its
latest connections. The other three lists are empty."""),
    code("""print(lab.host("node1", "cat", f"/proc/net/xt_recent/{sep_of[sticky]}", echo=True))
every_list = [f"/proc/net/xt_recent/{sep}" for sep in sorted(sep_of.values())]
print(lab.host("node1", "wc", "-l", *every_list, echo=True))"""),
    code("""toolbox_ip = lab.get("pods", "toolbox")["status"]["podIP"]
check_kernel_memory(lab, sep_of, sticky, toolbox_ip)  # and node2, node3 never saw it"""),
    md("""## On the wire: one pod gets every connection

We capture on all four pods while the toolbox makes 20 more requests. Every one is a new
TCP connection (a SYN), and all of them arrive at the same pod."""),
    code("""servers = sorted(pod_ips)
with lab.capture_many(servers, packet_filter="tcp port 8080") as caps:
    lab.requests("toolbox", url, 20)
caps[sticky].packets().syns()"""),
    code("""check_one_pod_on_wire(caps, sticky, toolbox_ip)  # 20 connections, one pod"""),
    md("""## Affinity is per client IP

`manifests/affinity-callers.yml` starts ten more client pods; the scheduler spreads them
over the three nodes. Each makes 10 requests. Each sticks to one pod — its own draw, so
together they use several pods."""),
    code("""# NBVAL_CHECK_OUTPUT
print(open("manifests/affinity-callers.yml").read())
print("\\n".join(lab.apply("manifests/affinity-callers.yml", wait=True)))"""),
    code("""callers = sorted(p["metadata"]["name"] for p in lab.get("pods", selector="app=callers"))
stuck = {c: who_answered(lab.requests(c, url, 10), ids) for c in ["toolbox", *callers]}
plots.distribution([answers[0] for answers in stuck.values()], "11 clients: the pod each sticks to")"""),
    code("""# 11 independent 1-in-4 draws all landing on one pod: 4 * (1/4)^11, about 1e-6
placed = check_per_client(lab, stuck)"""),
    md("""A client on node2 is remembered by **node2**'s kernel, in the list of the pod it sticks
to. (`grep -o` prints each list's file name and the addresses in it.)"""),
    code("""node2_lists = lab.host("node2", "sh", "-c", "grep -o 'src=[0-9.]*' /proc/net/xt_recent/*", echo=True)
print(node2_lists)"""),
    code("""check_node2_memory(lab, node2_lists, placed, stuck, sep_of)"""),
    md("""## The window: `timeoutSeconds`

`sessionAffinityConfig.clientIP.timeoutSeconds` (1 to 86400; default 10800) becomes the
`--seconds` of the `--rcheck` rules. We make it 3 s."""),
    code("""manifest = open("manifests/affinity-service-timeout.yml").read()
too_long = manifest.replace("timeoutSeconds: 3", "timeoutSeconds: 86401")
refused = lab.refusal(too_long, dry_run=True)
print(refused)"""),
    code("""check_window_refused(lab, refused)  # a dry run, and refused: nothing changed"""),
    code("""# NBVAL_CHECK_OUTPUT
print(open("manifests/affinity-service-timeout.yml").read())
print("\\n".join(lab.apply("manifests/affinity-service-timeout.yml", wait=True)))"""),
    code("""rules = lab.service_rules("random-generator", node="node1")
check_window_rules(rules, chain)"""),
    md("""It is a window **since the client was last seen**, not since its first connection: every new
connection passes the SEP chain's DNAT rule, whose `--set` stamps the entry again. So a
client that keeps connecting stays on its pod for good. Here the toolbox sends a burst of 10
connections every second for four seconds — longer than the window, but never a 3 s gap."""),
    code("""stream = []
for _ in range(5):  # time is the subject here: 5 bursts, 1 s apart
    stream += lab.requests("toolbox", url, 10, stamp=True)
    time.sleep(1)
stream_pods = set(who_answered(stream, ids))
stream_pods"""),
    code(
        """times = check_kept_connecting(stream, stream_pods)  # longer than the window, never a 3 s gap"""
    ),
    md("""Now silence: nobody connects for 3.5 s, so every client's entry is older than the window.
The next connection's `--rcheck` fails (and `--reap` drops the stale entry), the random rules
draw again, and the new pod is remembered from then on. First the ten callers make 5 requests
each, then all wait, then everyone (the toolbox too) connects again."""),
    code("""before = {c: who_answered(lab.requests(c, url, 5), ids) for c in callers}
before["toolbox"] = who_answered(stream[-5:], ids)
time.sleep(3.5)  # time is the subject: no new connection from anyone for longer than 3 s
after_stamped = lab.requests("toolbox", url, 10, stamp=True)
after = {c: who_answered(lab.requests(c, url, 5), ids) for c in callers}
after["toolbox"] = who_answered(after_stamped, ids)
moved = sorted(c for c in before if before[c][0] != after[c][0])
print(len(moved), "of", len(before), "clients are now answered by a different pod")"""),
    code("""# had the old entries held, nobody would move; all 11 drawing their old pod: (1/4)^11
check_rebalanced(before, after, moved)"""),
    md("""The toolbox's requests on one time axis. The first red line is its last connection before
the silence, the second is 3 s later, when its window ran out. Sticky for more than the
window while it kept connecting; after the silence balanced afresh — to another pod, or (1 in
4) to the same one — and sticky again."""),
    code("""samples = stamped(stream + after_stamped, ids)
t0 = float(stream[0].split()[0])
last = times[-1] - t0
plots.timeline(samples, "toolbox, timeoutSeconds: 3",
               marks=[(last, "last connection"), (last + 3, "window ends")])"""),
    code("""check_timeline(samples, len(stream), last, after["toolbox"])"""),
    md("""## What you saw

- `sessionAffinity` defaults to `None`; with `ClientIP` the API server defaults
  `sessionAffinityConfig.clientIP.timeoutSeconds` to 10800 and validates 1..86400
  (`lab_kit/model/defaults.py`, `lab_kit/model/validation_service.py`).
- kube-proxy turns it into `-m recent` rules: `--rcheck --seconds T --reap` per endpoint in
  the `KUBE-SVC-…` chain, ahead of the random ones, and `--set` on each `KUBE-SEP-…` DNAT rule
  (`lab_kit/render/proxy_rules.py`, applied by `lab_kit/agents/kube_proxy.py`).
- The memory is the kernel's `xt_recent` list per endpoint, on the client's node: affinity
  is per client IP and per node, and nothing in the API records it.
- The timeout counts from the client's *last* new connection; after a silence longer than
  the window the next connection is a fresh draw.

Next: `07-readiness.ipynb` — a failing readiness probe takes a pod out of rotation."""),
    md("""## Your turn

Two changes to the live cluster; each check says what it saw. The window is still 3 s."""),
    code("""from lab_kit.lab.exercises import check"""),
    *exercise(
        "06.1",
        "The sticky pod deleted",
        "Find the pod the toolbox sticks to (a few requests: `who_answered(lab.requests"
        '("toolbox", url, 5), ids)`) and delete it (`labkit delete pod NAME`).',
        "will the toolbox's next requests fail, wait for the replacement pod, or go elsewhere? "
        "Will they stick again, and to which pod?",
        '(stuck_to,) = set(who_answered(lab.requests("toolbox", url, 5), ids))\n'
        'print("the toolbox sticks to", stuck_to)\n'
        "!labkit delete pod {stuck_to}",
    ),
    *exercise(
        "06.2",
        "Affinity off again",
        "Apply the labs' plain Service again (`manifests/clusterip-service.yml`, which does not "
        "set `sessionAffinity`).",
        "what happens to the `recent` rules, and to the kernel's memory of the toolbox? How "
        "many pods will answer 40 requests from the toolbox?",
        'print("\\n".join(lab.apply("manifests/clusterip-service.yml", wait=True)))\n'
        'lab.service_rules("random-generator", node="node1")',
    ),
    code("""lab.down()"""),
]
if __name__ == "__main__":
    write(cells, NOTEBOOK)
