"""What `labkit status` says: every process of the lab, alive or not, its restarts and its
last successful sync, then what is wrong in a user's words.

    Lab running (run dir /run/labkit, up since 14:02:11)
    PROCESS              PID     STATUS    RESTARTS      LAST SYNC
    controller-manager   4242    Running   0             3s ago
    kube-proxy/node2     4301    Running   1 (2m ago)    12s ago
    ...
    Problems:
      kube-proxy/node2 is not running: Service changes do not reach node2

RESTARTS reads as kubectl's pod column does ("1 (2m ago)"); LAST SYNC is the time of the
agent's last report to the API server (`/lab/v1/agents`: it reports after each sync that
made its state live). The facts come from `lifecycle.status()`; this module only words them.
"""

from __future__ import annotations

import time

from lab_kit.adapters.rundir import RunDir
from lab_kit.api.printers import format_table, human_duration


def status_text(info: dict, now: float | None = None) -> tuple[str, bool]:
    """The report, and whether all is well (`labkit status` exits 1 if not)."""
    now = time.time() if now is None else now
    if not info.get("processes"):
        return "No lab is running.", False
    reports = {a["name"]: a for a in (info.get("agents") or {}).get("items", [])}
    lines = [_headline(info), _process_table(info, reports, now)]
    in_pods = [a for name, a in sorted(reports.items()) if not _ours(info, name)]
    if in_pods:
        lines.append("Agents in pods: " + ", ".join(
            f"{a['name']} (last sync {_ago(a.get('lastReport'), now)})" for a in in_pods
        ))  # fmt: skip
    lines.append(f"Addons: {', '.join(info.get('addons') or []) or 'none'}")
    lines += _outside(info)
    if "agents" in info:
        lines.append(_convergence(info["agents"], reports))
    problems = info.get("problems", [])
    if problems:
        lines += ["Problems:", *(f"  {p}" for p in problems)]
    return "\n".join(lines), info["running"] and not problems


def _headline(info: dict) -> str:
    since = ""
    if info.get("started_at"):
        since = f", up since {time.strftime('%H:%M:%S', time.localtime(info['started_at']))}"
    if not info["running"]:
        state = "NOT running (crashed? `labkit clean`)"
    elif info.get("phase") == "starting":
        state = "starting (or `labkit up` was interrupted: `labkit down`)"
    elif info.get("phase") == "stopping":
        state = "stopping"
    else:
        state = "running"
    return f"Lab {state} (run dir {info['run_dir']}{since})"


def _process_table(info: dict, reports: dict[str, dict], now: float) -> str:
    rows = [["PROCESS", "PID", "STATUS", "RESTARTS", "LAST SYNC"]]
    for p in info["processes"]:
        if not p["agent"] and not p["alive"]:
            continue  # a finished capture is not part of the lab any more
        restarts = "-" if p["restart"] != "Always" else str(p["restarts"])
        if p["restarts"] and p.get("restarted_at"):
            restarts += f" ({_ago(p['restarted_at'], now)})"
        report = reports.get(p["name"])
        last_sync = _ago(report.get("lastReport"), now) if report else "-"
        state = "Running" if p["alive"] else "Dead"
        rows.append([p["name"], str(p["pid"]), state, restarts, last_sync])
    return format_table(rows)


def _convergence(agents: dict, reports: dict[str, dict]) -> str:
    rv = int(agents.get("resourceVersion", 0))
    behind = [f"{n} ({a['appliedResourceVersion']})" for n, a in sorted(reports.items())
              if a["appliedResourceVersion"] < rv]  # fmt: skip
    if not behind:
        return f"API resourceVersion {rv}: every agent has applied it"
    return f"API resourceVersion {rv}; not yet applied by: {', '.join(behind)}"


def _outside(info: dict) -> list[str]:
    """Nodes taken off the network on purpose (`labkit node disconnect`): said, not a
    problem — their kubelet's last sync is old because it cannot reach the API."""
    gone = RunDir(info["run_dir"]).partitioned_nodes() if info.get("run_dir") else []
    return [
        f"Disconnected node: {n} (off the network on purpose; `labkit node connect {n}`)"
        for n in gone
    ]


def _ours(info: dict, name: str) -> bool:
    return any(p["name"] == name for p in info["processes"])


def _ago(when: float | None, now: float) -> str:
    return "-" if not when else f"{human_duration(max(0.0, now - when))} ago"
