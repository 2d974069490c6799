"""`Lab`: the notebook's (and the CLI's) handle on a running lab.

    from lab_kit import Lab
    lab = Lab.up()                      # or Lab.connect() to one `labkit up` started
    lab.apply("deployment.yml")         # files, directories, YAML text, dicts
    lab.get("pods")                     # a list of objects that prints as kubectl's table
    lab.down()

Every method is a thin call to the API server; the logic lives in `lab_kit.api` and the
agents. Errors are `LabError`s whose text names the file, document and field.
"""

from __future__ import annotations

import html
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from lab_kit.adapters import processes
from lab_kit.adapters.apiclient import ApiClient
from lab_kit.adapters.capture import Capture
from lab_kit.adapters.processes import ProcessRecord
from lab_kit.api import printers
from lab_kit.api.describe import describe as describe_text
from lab_kit.lab import access, lifecycle, proxy_view
from lab_kit.lab.dns_view import DigResult, parse_dig
from lab_kit.lab.lifecycle import LabError
from lab_kit.lab.topologies import load_topology
from lab_kit.model import meta
from lab_kit.model.errors import ApiError
from lab_kit.model.kinds import Kind, kind_of, lookup
from lab_kit.model.manifests import Document, ManifestError, parse_manifests
from lab_kit.model.topology import TopologyError
from lab_kit.render import proxy_rules
from lab_kit.render.proxy_endpoints import service_ports
from lab_kit.agents.images import resolve as resolve_image

AGNHOST_IMAGE = "registry.k8s.io/e2e-test-images/agnhost:2.53"

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


def resource_name(obj: dict) -> str:
    """`deployment.apps/random-generator`, as kubectl names what it acted on."""
    kind = kind_of(obj)
    return f"{kind.singular}{'.' + kind.group if kind.group else ''}/{meta.name(obj)}"


def resolve_kind(name: str) -> Kind:
    kind = lookup(name)
    if kind is None:
        raise LabError(f'the server doesn\'t have a resource type "{name}"')
    return kind


def read_documents(source: Any) -> list[Document]:
    """Documents from a path (file or directory), "-" (stdin), YAML text, a dict or a list."""
    if isinstance(source, dict):
        return [Document("<object>", 0, 1, source)]
    if isinstance(source, list | tuple):
        docs = [d for s in source for d in read_documents(s)]
        return docs
    text_source = str(source)
    if text_source == "-":
        return parse_manifests(sys.stdin.read(), "STDIN")
    path = Path(text_source)
    if "\n" not in text_source and path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in MANIFEST_SUFFIXES)
        if not files:
            raise ManifestError(
                f'error: no objects passed to apply: "{source}" has no .yaml/.yml/.json files'
            )
        return [d for f in files for d in read_documents(str(f))]
    if "\n" not in text_source and path.is_file():
        return parse_manifests(path.read_text(), text_source)
    if "\n" in text_source or text_source.lstrip().startswith(("apiVersion", "{", "kind")):
        return parse_manifests(text_source, "<string>")
    raise ManifestError(f'error: the path "{source}" does not exist')


class Listing(list):
    """Objects of one kind; prints as `kubectl get` does, renders as an HTML table."""

    def __init__(
        self, kind: str, items: list[dict], wide: bool = False, all_namespaces: bool = False
    ):
        super().__init__(items)
        self.kind, self.wide, self.all_namespaces = kind, wide, all_namespaces

    def rows(self) -> list[list[str]]:
        return printers.table(
            self.kind, list(self), wide=self.wide, all_namespaces=self.all_namespaces
        )

    def __str__(self) -> str:
        return printers.format_table(self.rows()) if self else "No resources found."

    __repr__ = __str__  # Jupyter's text view shows the kubectl table, not a list of dicts

    def _repr_html_(self) -> str:
        rows = self.rows()
        head = "".join(f"<th style='text-align:left'>{html.escape(c)}</th>" for c in rows[0])
        body = "".join(
            "<tr>"
            + "".join(f"<td style='text-align:left'>{html.escape(c)}</td>" for c in r)
            + "</tr>"
            for r in rows[1:]
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class Lab:
    def __init__(self, client: ApiClient):
        self.client = client

    # --- lifecycle -----------------------------------------------------------------------------
    @classmethod
    def up(
        cls, topology: str | None = None, quiet: bool = True, control_plane_only: bool = False
    ) -> Lab:
        """Build the lab (default topology unless named) and connect to it."""
        try:
            lifecycle.up(
                topology,
                progress=(lambda *_: None) if quiet else print,
                control_plane_only=control_plane_only,
            )
        except TopologyError as e:
            raise LabError(str(e)) from e
        return cls.connect()

    @classmethod
    def connect(cls) -> Lab:
        sock = lifecycle.socket_path()
        client = ApiClient(sock)
        if not os.path.exists(sock) or not client.healthy():
            client.close()
            raise LabError(
                f"no lab is running (no API server at {sock}); start one with `labkit up`"
            )
        return cls(client)

    def down(self) -> None:
        self.client.close()
        lifecycle.down(progress=lambda *_: None)

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

    # --- objects ---------------------------------------------------------------------------------
    def apply(
        self, source: Any, *, wait: bool = False, timeout_s: float = 60, dry_run: bool = False
    ) -> list[str]:
        """Create or update every document, all or nothing; returns kubectl's result lines."""
        try:
            docs = read_documents(source)
        except ManifestError as e:
            raise LabError(str(e)) from e
        if not docs:
            raise LabError("error: no objects passed to apply")
        try:
            answer = self.client.apply([d.obj for d in docs], dry_run=dry_run)
        except ApiError as e:
            raise LabError(_explain_apply_error(e, docs)) from e
        suffix = " (server dry run)" if dry_run else ""
        lines = [f"{resource_name(r['object'])} {r['action']}{suffix}" for r in answer["results"]]
        if wait and not dry_run:
            namespaces = sorted(
                {
                    meta.namespace(r["object"])
                    for r in answer["results"]
                    if meta.namespace(r["object"])
                }
            )
            self.wait_ready(timeout_s, namespaces=namespaces or ["default"])
        return lines

    def wait(self, timeout_s: float = 60) -> None:
        """Return when every agent has applied the latest change, or raise after timeout_s."""
        result = self.client.converged(timeout_s)
        if not result.get("converged"):
            behind = ", ".join(result.get("behind", []) + result.get("missing", []))
            raise LabError(
                f"timed out after {timeout_s:.0f} s waiting for the lab to converge "
                f"(still behind: {behind or 'unknown'})"
            )

    def get(
        self,
        kind: str,
        name: str | None = None,
        namespace: str = "default",
        *,
        all_namespaces: bool = False,
        selector: str = "",
        wide: bool = False,
    ) -> Any:
        k = resolve_kind(kind)
        if name:
            return self.client.get(k, name, namespace if k.namespaced else None)
        ns = None if all_namespaces or not k.namespaced else namespace
        items = self.client.list(k, ns, label_selector=selector)["items"]
        return Listing(k.kind, items, wide=wide, all_namespaces=all_namespaces and k.namespaced)

    def describe(self, kind: str, name: str, namespace: str = "default") -> str:
        k = resolve_kind(kind)
        obj = self.client.get(k, name, namespace if k.namespaced else None)
        endpoints = None
        if k.kind == "Service":
            try:
                endpoints = self.client.get(resolve_kind("endpoints"), name, namespace)
            except ApiError:
                endpoints = None
        return describe_text(obj, endpoints=endpoints)

    def refusal(self, source: Any, *, dry_run: bool = False) -> str:
        """Apply something expected to be refused and return the error a user would see
        ("" if it was accepted, and then it is applied): for showing what the API rejects."""
        try:
            self.apply(source, dry_run=dry_run)
        except LabError as e:
            return str(e)
        return ""

    def delete(
        self,
        kind: str | None = None,
        name: str | None = None,
        namespace: str = "default",
        *,
        filename: Any = None,
        grace_period_s: int | None = None,
        selector: str = "",
    ) -> list[str]:
        """Delete by kind and name, by kind and label selector (`selector="app=web"`), or
        every object a manifest names; returns kubectl's result lines."""
        targets: list[tuple[Kind, str, str | None]] = []
        if kind and selector and not name:
            k = resolve_kind(kind)
            for obj in self.get(kind, namespace=namespace, selector=selector):
                targets.append((k, meta.name(obj), namespace if k.namespaced else None))
            if not targets:
                return [f"No resources found in {namespace} namespace."]
        elif filename is not None:
            for d in read_documents(filename):
                k = kind_of(d.obj)
                targets.append((k, d.name, (d.namespace or namespace) if k.namespaced else None))
        elif kind and name:
            k = resolve_kind(kind)
            targets.append((k, name, namespace if k.namespaced else None))
        else:
            raise LabError("error: resource(s) were provided, but no name was specified")
        lines = []
        for k, n, ns in targets:
            self.client.delete(k, n, ns, grace_period_s)
            lines.append(f'{k.singular}{"." + k.group if k.group else ""} "{n}" deleted')
        return lines

    def status(self) -> dict:
        return lifecycle.status()

    # --- inside the lab --------------------------------------------------------------------------
    def host(self, name: str, *argv: str, echo: bool = False) -> access.Completed:
        """Run a command on a node or outside host (`lab.host("node1", "ip", "route")`)."""
        if echo:
            print(f"{name}$ {shlex.join(argv)}")
        return access.run_on_host(name, list(argv))

    def exec(
        self,
        pod: str,
        *argv: str,
        namespace: str = "default",
        container: str | None = None,
        echo: bool = False,
        stdin: str | None = None,
    ) -> access.Completed:
        """Run a command in a pod, with its container's environment (`kubectl exec`)."""
        if echo:
            print(f"{pod}$ {shlex.join(argv)}")
        return access.run_in_pod(self.sandbox(pod, namespace), container, list(argv), stdin=stdin)

    def dig(self, pod: str, name: str, *options: str, qtype: str = "A",
            namespace: str = "default", echo: bool = False) -> DigResult:  # fmt: skip
        """Run `dig [options] name qtype` in a pod (its resolv.conf: kube-dns and the search
        list; add "+search" to use it) and read the reply: `.status`, `.addresses`, ..."""
        argv = ["dig", "+time=2", "+tries=2", *options, name, qtype]
        if echo:
            print(f"{pod}$ {shlex.join(['dig', *options, name, qtype])}")
        return parse_dig(self.exec(pod, *argv, namespace=namespace).stdout)

    def sandbox(self, pod: str, namespace: str = "default") -> dict:
        obj = self.client.get(resolve_kind("pods"), pod, namespace)
        if not meta.spec(obj).get("nodeName"):
            raise LabError(f"pod {pod} is not scheduled yet (no node): it has nothing to run in")
        return access.pod_sandbox(meta.uid(obj))

    def logs(
        self,
        pod: str,
        namespace: str = "default",
        container: str | None = None,
        previous: bool = False,
    ) -> str:
        """A container's output (`kubectl logs [--previous]`)."""
        state = self.sandbox(pod, namespace)
        name = container or next(iter(state["containers"]), "")
        if name not in state["containers"]:
            raise LabError(f"container {name} is not valid for pod {pod}")
        log_dir = os.path.dirname(state["containers"][name]["log"])
        runs = (
            sorted((int(p.stem) for p in Path(log_dir).glob("*.log")), reverse=True)
            if os.path.isdir(log_dir)
            else []
        )
        index = 1 if previous else 0
        if len(runs) <= index:
            what = "previous terminated container" if previous else "container"
            raise LabError(f'{what} "{name}" in pod "{pod}" not found')
        return (Path(log_dir) / f"{runs[index]}.log").read_text(errors="replace")

    def start_on_host(self, host: str, *argv: str, name: str = "") -> ProcessRecord:
        """Start a long-running program on a node or outside host (`lab.start_on_host(
        "internet", "agnhost", "netexec", "--http-port=80")`); `labkit down` stops it.
        `agnhost` runs the built-in agnhost workload."""
        if argv and argv[0] == "agnhost":
            program = resolve_image({"image": AGNHOST_IMAGE, "args": list(argv[1:])})
            argv = tuple(program.argv)
        log = os.path.join(lifecycle.run_dir(), "logs", f"{host}-{name or Path(argv[0]).name}.log")
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                access.host_argv(host, list(argv)), stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        record = ProcessRecord(f"{host}: {name or argv[0]}", proc.pid,
                               processes.start_ticks(proc.pid) or 0, list(argv))  # fmt: skip
        lifecycle.remember_process(record)
        return record

    def stop_on_host(self, record: ProcessRecord) -> None:
        processes.stop(record)

    def wait_listening(self, host: str, port: int, timeout_s: float = 10) -> None:
        """Return once something on `host` listens on TCP `port`."""
        deadline = time.monotonic() + timeout_s
        while True:
            out = access.run_on_host(host, ["ss", "-Hltn", f"sport = :{port}"])
            if out.stdout.strip():
                return
            if time.monotonic() > deadline:
                raise LabError(f"nothing listens on {host}:{port} after {timeout_s:.0f} s")
            time.sleep(0.05)  # polling a socket table: there is no event to wait on

    def draw_connection(
        self, client_capture, server_capture, client: str, server: str, node: str = ""
    ):
        """The first connection seen in both captures, hop by hop, rewrites in red."""
        from lab_kit.lab.graphs import packet_path_graph
        from lab_kit.lab.packet_path import connection_hops

        hops = connection_hops(client_capture.packets(), server_capture.packets(), client, server,
                               node or "the client's node")  # fmt: skip
        return packet_path_graph(hops)

    # --- the data plane ----------------------------------------------------------------------
    def iptables(self, node: str, table: str | None = None, *, grep: list[str] | str | None = None,
                 counters: bool = False) -> proxy_view.RulesText:  # fmt: skip
        """`iptables-save` on a node, or only the lines that mention `grep` (e.g. a chain
        name or a Service's ClusterIP)."""
        saved = proxy_view.iptables_save(node, table, counters)
        if grep:
            return proxy_view.excerpt(saved, [grep] if isinstance(grep, str) else list(grep))
        return saved

    def service_rules(
        self, name: str, namespace: str = "default", node: str = "node1"
    ) -> proxy_view.RulesText:
        """The nat and filter rules kube-proxy wrote on `node` for one Service: its
        KUBE-SERVICES entries and its KUBE-SVC/SVL/EXT/FW/SEP chains."""
        svc = self.get("services", name, namespace)
        chains = [
            proxy_rules.svc_chain(sp.port_key, sp.protocol, prefix)
            for sp in service_ports(svc)
            for prefix in ("KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-")
        ]
        saved = proxy_view.iptables_save(node)
        seps = {w for line in saved.splitlines() if any(f"-A {c} " in line for c in chains)
                for w in line.split() if w.startswith("KUBE-SEP-")}  # fmt: skip
        return proxy_view.excerpt(
            saved, [f'"{namespace}/{name}', f" {namespace}/{name}", *chains, *seps]
        )

    def trace(self, node: str, src: str, dst: str, dport: int | None = None, proto: str = "tcp", *,
              origin: str = "forwarded", choose=None):  # fmt: skip
        """Walk the first packet of a connection through `node`'s live rules (its current
        `iptables-save`), rule by rule: `origin="forwarded"` for a packet from a pod or
        another host, `"local"` for one the node itself sends. `choose`: which random branch
        to take (an index, or a random.Random); by default the first."""
        from lab_kit import trace as tracer

        rules, ctx = self._node_rules(node)
        return tracer.trace(
            rules, tracer.Packet(src, dst, proto, dport), ctx, origin=origin, choose=choose
        )

    def outcomes(self, node: str, src: str, dst: str, dport: int | None = None, proto: str = "tcp",
                 *, origin: str = "forwarded"):  # fmt: skip
        """Every possible fate of that packet on `node`, with its probability."""
        from lab_kit import trace as tracer

        rules, ctx = self._node_rules(node)
        return tracer.outcomes(rules, tracer.Packet(src, dst, proto, dport), ctx, origin=origin)

    def _node_rules(self, node: str):
        """A node's live rules, parsed, and its addresses: what the tracer walks."""
        from lab_kit import trace as tracer

        rules = tracer.parse(proxy_view.iptables_save(node))
        return rules, tracer.NodeContext.from_spec(load_topology(lifecycle.topology_file()), node)

    def rule_hits(self, node: str):
        """`with lab.rule_hits("node1") as hits: ...` — afterwards `hits.rules` are the
        rules whose packet counters grew meanwhile (iptables-save -c before and after)."""
        return proxy_view.RuleHits(node)

    def conntrack(self, node: str, *filters: str) -> proxy_view.ConntrackTable:
        """Connection-tracking entries on a node (`conntrack -L`), original and reply tuple."""
        return proxy_view.conntrack(node, *filters)

    def proxy_metrics(self, node: str = "node1") -> dict[str, float]:
        return proxy_view.proxy_metrics(node)

    def requests(
        self,
        pod: str,
        url: str,
        count: int = 100,
        *,
        namespace: str = "default",
        timeout_s: float = 2.0,
        stamp: bool = False,
    ) -> list[str]:
        """`count` HTTP requests from inside `pod`, one after another (a bounded loop in
        the pod); the answers in order ("ERR" for a failed one). With `stamp`, each answer
        is prefixed with the time it was received (epoch seconds)."""
        argv = proxy_view.loop_command(url, count, timeout_s, stamp)
        out = self.exec(pod, *argv, namespace=namespace)
        return out.stdout.splitlines()

    # --- seeing it ------------------------------------------------------------------------------
    def draw(self):
        """The topology: nodes with their pods, the switch, the hosts outside the cluster."""
        from lab_kit.lab.graphs import topology_graph

        hosts = lifecycle.network_info().get("hosts", {})
        nodes = [{"name": n, **h} for n, h in sorted(hosts.items()) if h.get("role") == "node"]
        outside = [
            {"name": n, **h}
            for n, h in sorted(hosts.items())
            if h.get("role") not in ("node", "router")
        ]
        return topology_graph(nodes, outside, list(self.get("pods", all_namespaces=True)))

    def draw_services(self, namespace: str = "default"):
        """Services -> EndpointSlices -> pods (and their nodes)."""
        from lab_kit.lab.graphs import service_graph

        return service_graph(
            list(self.get("services", namespace=namespace)),
            list(self.get("endpointslices", namespace=namespace)),
            list(self.get("pods", namespace=namespace)),
        )

    def capture(
        self,
        target: str,
        interface: str | None = None,
        namespace: str = "default",
        packet_filter: str = "",
    ):
        """Capture packets on a pod's eth0 or a host's interface (`with lab.capture("web") as cap:`);
        after the block, `cap.packets()` is the decoded table and `cap.path` the pcap file."""
        hosts = lifecycle.network_info().get("hosts", {})
        if target in hosts:
            pid, iface = hosts[target]["pid"], interface or f"{target}-eth0"
        else:
            pid, iface = self.sandbox(target, namespace)["pause"]["pid"], interface or "eth0"
        directory = os.path.join(lifecycle.run_dir(), "captures")
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, f"{target}-{iface}-{int(time.time() * 1000)}.pcap")
        return LabCapture(pid, iface, path, packet_filter or None)

    def capture_many(self, targets: list[str], namespace: str = "default", packet_filter: str = ""):
        """Capture on several pods or hosts at once: `with lab.capture_many(pods) as caps:`;
        afterwards `caps["pod"].packets()`; `caps.with_connections()` names those that saw a SYN."""
        return CaptureGroup(
            {t: self.capture(t, namespace=namespace, packet_filter=packet_filter) for t in targets}
        )

    def wait_pod_finished(
        self, name: str, namespace: str = "default", timeout_s: float = 60
    ) -> int:
        """Wait for a pod's (first) container to run to its end; return its exit code."""
        deadline = time.monotonic() + timeout_s
        while True:
            pod = self.client.get(resolve_kind("pods"), name, namespace)
            for cs in meta.status(pod).get("containerStatuses") or []:
                ended = (cs.get("state") or {}).get("terminated") or (
                    cs.get("lastState") or {}
                ).get("terminated")
                if ended:
                    return int(ended.get("exitCode", 0))
                waiting = (cs.get("state") or {}).get("waiting") or {}
                if waiting.get("reason") in (
                    "ErrImagePull",
                    "ImagePullBackOff",
                    "CreateContainerConfigError",
                ):
                    raise LabError(f"pod {name}: {waiting['reason']}: {waiting.get('message', '')}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise LabError(
                    f"timed out after {timeout_s:.0f} s waiting for pod {name} to finish "
                    f"({printers.pod_status_text(pod)})"
                )
            self.client.watch_change(resolve_kind("pods"), left)

    def wait_ready(
        self,
        timeout_s: float = 60,
        namespace: str | None = None,
        namespaces: list[str] | None = None,
    ) -> None:
        """Return when every agent has applied the latest change and every Pod (in the given
        namespaces, or all) is Ready; Pods that finished or are being deleted don't count."""
        wanted = namespaces or ([namespace] if namespace else None)
        deadline = time.monotonic() + timeout_s
        while True:
            self.wait(max(1.0, deadline - time.monotonic()))
            pods = [
                p
                for p in self.get("pods", all_namespaces=True)
                if wanted is None or meta.namespace(p) in wanted
            ]
            waiting = [
                p
                for p in pods
                if not _is_ready(p)
                and not meta.is_deleting(p)
                and meta.status(p).get("phase") not in ("Succeeded", "Failed")
            ]
            if not waiting:
                return
            if time.monotonic() >= deadline:
                raise LabError(
                    f"timed out after {timeout_s:.0f} s waiting for pods to be Ready: "
                    + "; ".join(
                        f"{meta.namespace(p)}/{meta.name(p)}: {printers.pod_status_text(p)}"
                        for p in waiting
                    )
                )
            self.client.watch_change(resolve_kind("pods"), max(0.1, deadline - time.monotonic()))


class CaptureGroup(dict):
    def __enter__(self) -> CaptureGroup:
        started = []
        try:
            for cap in self.values():
                started.append(cap.start())
        except BaseException:
            for cap in started:
                cap.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for cap in self.values():
            cap.stop()

    def with_traffic(self) -> list[str]:
        """Targets whose capture holds any packet."""
        return [name for name, cap in self.items() if cap.packets()]

    def with_connections(self) -> list[str]:
        """Targets whose capture saw a new TCP connection (a SYN): late packets of older
        connections do not count."""
        return [name for name, cap in self.items() if cap.packets().syns()]


class LabCapture(Capture):
    """A capture whose packets come back as a table (`cap.packets()`); its tcpdump is
    recorded with the lab's processes, so `labkit down` stops it even if the notebook's
    kernel died mid-capture."""

    def start(self) -> LabCapture:
        super().start()
        if self.record is not None:
            lifecycle.remember_process(self.record)
        return self

    def packets(self):
        from lab_kit.lab.packets import read_packets

        return read_packets(self.path)


def _is_ready(pod: dict) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in meta.status(pod).get("conditions") or []
    )


def _explain_apply_error(e: ApiError, docs: list[Document]) -> str:
    """Name the file and document the server refused, then its own message."""
    index = e.details.get("index") if isinstance(e.details, dict) else None
    where = docs[index].where if isinstance(index, int) and 0 <= index < len(docs) else "the input"
    return (
        f"Error from server ({e.reason}): error when applying {where}: {e.message}\n"
        f"(nothing was applied: a batch is all or nothing)"
    )


def to_json(obj: Any) -> str:
    return json.dumps(obj, indent=4)
