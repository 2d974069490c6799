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
from collections import Counter

from lab_kit import Lab
from lab_kit.lab import plots
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
    code("""assert svc["spec"]["sessionAffinity"] == "None" and "sessionAffinityConfig" not in svc["spec"]
counts = Counter(spread)
assert "ERR" not in counts and len(counts) == 4
# Binomial(100, 1/4) per pod: mean 25, sd 4.3; 5 or fewer, or 50 or more, has odds below 1e-6.
assert all(5 < n < 50 for n in counts.values()), counts
print("None: 100 requests over", len(counts), "pods:", sorted(counts.values()))"""),
    md("""## `sessionAffinity: ClientIP`: one client, one pod

`manifests/affinity-service.yml` is the same Service with `sessionAffinity: ClientIP`. The
API server fills in `sessionAffinityConfig.clientIP.timeoutSeconds: 10800` (3 hours)."""),
    code("""# NBVAL_CHECK_OUTPUT
print(open("manifests/affinity-service.yml").read())
print("\\n".join(lab.apply("manifests/affinity-service.yml", wait=True)))"""),
    code("""sticky_answers = who_answered(lab.requests("toolbox", url, 100), ids)
plots.distribution(sticky_answers, "sessionAffinity: ClientIP — 100 requests from toolbox")"""),
    code("""spec = lab.get("services", "random-generator")["spec"]
assert spec["sessionAffinity"] == "ClientIP" and spec["clusterIP"] == cluster_ip
assert spec["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}  # defaulted
(sticky,) = set(sticky_answers)  # exactly one pod answered all 100
assert sticky != "ERR" and len(sticky_answers) == 100
print("ClientIP: all 100 requests answered by", sticky)"""),
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
svc_rules = rules.rules(chain)
checks = [r for r in svc_rules if "--rcheck" in r]
first_random = next(i for i, r in enumerate(svc_rules) if "--probability" in r)
assert len(checks) == 4 and all(svc_rules.index(r) < first_random for r in checks)
for sep in sep_of.values():  # one check per endpoint, jumping to that endpoint's chain
    assert [r for r in checks if f"--rcheck --seconds 10800 --reap --name {sep} " in r and r.endswith(f"-j {sep}")]
    (dnat,) = [r for r in rules.rules(sep) if "DNAT" in r]
    assert f"-m recent --set --name {sep} " in dnat
print("4 --rcheck rules before the random ones; each of the 4 SEP chains --sets its own list")"""),
    md("""## The kernel's memory: `/proc/net/xt_recent`

Each list lives in the kernel of the node that does the DNAT — the *client's* node — and can
be read as a file. The sticky pod's list on node1 holds one entry: the toolbox pod's
address, its TTL, `last_seen` (in jiffies, the kernel's clock ticks) and the times of its
latest connections. The other three lists are empty."""),
    code("""print(lab.host("node1", "cat", f"/proc/net/xt_recent/{sep_of[sticky]}", echo=True))
every_list = [f"/proc/net/xt_recent/{sep}" for sep in sorted(sep_of.values())]
print(lab.host("node1", "wc", "-l", *every_list, echo=True))"""),
    code("""toolbox_ip = lab.get("pods", "toolbox")["status"]["podIP"]
lists = {pod: str(lab.host("node1", "cat", f"/proc/net/xt_recent/{sep}")) for pod, sep in sep_of.items()}
assert lists[sticky].startswith(f"src={toolbox_ip} ") and lists[sticky].count("src=") == 1
assert not any(lists[pod] for pod in lists if pod != sticky)
for node in ("node2", "node3"):  # the other nodes never saw this client
    assert toolbox_ip not in lab.host(node, "sh", "-c", "cat /proc/net/xt_recent/*").stdout
print(f"node1 remembers {toolbox_ip} in {sep_of[sticky]} ({sticky}) only")"""),
    md("""## On the wire: one pod gets every connection

We capture on all four pods while the toolbox makes 20 more requests. Every one is a new
TCP connection (a SYN), and all of them arrive at the same pod."""),
    code("""servers = sorted(pod_ips)
with lab.capture_many(servers, packet_filter="tcp port 8080") as caps:
    lab.requests("toolbox", url, 20)
caps[sticky].packets().syns()"""),
    code("""syns = caps[sticky].packets().syns()
assert caps.with_connections() == [sticky]
assert len(syns) == 20 and {(s.src, s.dport) for s in syns} == {(toolbox_ip, 8080)}
assert len({s.sport for s in syns}) == 20  # 20 different connections, one pod
print(f"20 connections from {toolbox_ip}, 20 SYNs at {sticky}, none at the other pods")"""),
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
    code("""assert all(len(set(answers)) == 1 and answers[0] != "ERR" for answers in stuck.values())
caller_pods = lab.get("pods", selector="app=callers")
placed = {p["metadata"]["name"]: p["spec"]["nodeName"] for p in caller_pods}
assert set(placed.values()) == {"node1", "node2", "node3"}
# 11 independent 1-in-4 draws all landing on one pod: 4 * (1/4)^11, about 1e-6.
assert len({answers[0] for answers in stuck.values()}) > 1
print(len(stuck), "clients, each on one pod; pods used:", len({a[0] for a in stuck.values()}))"""),
    md("""A client on node2 is remembered by **node2**'s kernel, in the list of the pod it sticks
to. (`grep -o` prints each list's file name and the addresses in it.)"""),
    code("""node2_lists = lab.host("node2", "sh", "-c", "grep -o 'src=[0-9.]*' /proc/net/xt_recent/*", echo=True)
print(node2_lists)"""),
    code("""caller_ips = {p["metadata"]["name"]: p["status"]["podIP"] for p in caller_pods}
on_node2 = [c for c in callers if placed[c] == "node2"]
assert on_node2
for c in on_node2:  # "<list file>:src=<ip>": exactly one line for this caller, in its pod's list
    where = [line.split(":")[0] for line in node2_lists.stdout.split() if line.endswith(f"src={caller_ips[c]}")]
    assert where == [f"/proc/net/xt_recent/{sep_of[stuck[c][0]]}"], (c, where)
print(len(on_node2), "callers on node2, each in exactly one of node2's lists: its pod's")"""),
    md("""## The window: `timeoutSeconds`

`sessionAffinityConfig.clientIP.timeoutSeconds` (1 to 86400; default 10800) becomes the
`--seconds` of the `--rcheck` rules. We make it 3 s."""),
    code("""manifest = open("manifests/affinity-service-timeout.yml").read()
too_long = manifest.replace("timeoutSeconds: 3", "timeoutSeconds: 86401")
refused = lab.refusal(too_long, dry_run=True)
print(refused)"""),
    code("""assert "spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 86401" in refused
config = lab.get("services", "random-generator")["spec"]["sessionAffinityConfig"]
assert config == {"clientIP": {"timeoutSeconds": 10800}}  # a dry run, and refused: nothing changed
print("86401 s is refused: the window is at most a day")"""),
    code("""# NBVAL_CHECK_OUTPUT
print(open("manifests/affinity-service-timeout.yml").read())
print("\\n".join(lab.apply("manifests/affinity-service-timeout.yml", wait=True)))"""),
    code("""rules = lab.service_rules("random-generator", node="node1")
checks = [r for r in rules.rules(chain) if "--rcheck" in r]
assert len(checks) == 4 and all("--rcheck --seconds 3 --reap" in r for r in checks)
print(checks[0])"""),
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
    code("""times = [float(line.split()[0]) for line in stream]
assert times[-1] - times[0] > 3  # longer than the window in all...
assert max(b - a for a, b in zip(times, times[1:])) < 2  # ...but never a gap near 3 s
assert len(stream_pods) == 1 and "ERR" not in stream_pods
print(f"{len(stream)} connections over {times[-1] - times[0]:.1f} s, all to {stream_pods.pop()}")"""),
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
    code("""assert all(len(set(before[c])) == 1 and len(set(after[c])) == 1 for c in before)  # sticky in each burst
assert "ERR" not in {a[0] for a in after.values()}
# After the silence each of the 11 clients' next connection is a fresh, independent 1-in-4
# draw. Had the old entries still held, nobody would move; that all 11 draw their old pod
# again by chance has probability (1/4)^11, about 2.4e-7 — so this never fails by luck.
assert moved
print(f"{len(moved)} of 11 clients re-balanced after 3.5 s of silence")"""),
    md("""The toolbox's requests on one time axis. The first red line is its last connection before
the silence, the second is 3 s later, when its window ran out. Sticky for more than the
window while it kept connecting; after the silence balanced afresh — to another pod, or (1 in
4) to the same one — and sticky again."""),
    code("""samples = stamped(stream + after_stamped, ids)
t0 = float(stream[0].split()[0])
last = times[-1] - t0
plots.timeline(samples, "toolbox, timeoutSeconds: 3",
               marks=[(last, "last connection"), (last + 3, "window ends")])"""),
    code("""before_silence, after_silence = samples[: len(stream)], samples[len(stream) :]
assert all(t <= last for t, _ in before_silence) and all(t > last + 3 for t, _ in after_silence)
assert {p for _, p in after_silence} == set(after["toolbox"])  # one pod again
gap = after_silence[0][0] - last
print(f"toolbox: {before_silence[0][1]}, then after {gap:.1f} s of silence {after_silence[0][1]}")"""),
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
