"""`labkit status` in words: each process with kubectl's RESTARTS habit ("1 (2m ago)") and
the time since its last report, agents that run in pods, whether every agent caught up, and
the problems; all well only when the lab runs and nothing is wrong."""

from __future__ import annotations

from lab_kit.lab.status_view import status_text

NOW = 1_700_000_000.0


def proc(name: str, pid: int, alive: bool = True, restarts: int = 0, at: float | None = None,
         restart: str = "Always", agent: bool = True) -> dict:  # fmt: skip
    return {"name": name, "pid": pid, "alive": alive, "agent": agent, "restart": restart,
            "restarts": restarts, "restarted_at": at, "last_exit": ""}  # fmt: skip


def info(processes: list[dict], problems: list[str], reports: list[dict]) -> dict:
    return {
        "running": any(p["alive"] for p in processes), "run_dir": "/run/labkit",
        "started_at": 0.0, "phase": "running", "processes": processes, "addons": ["coredns"],
        "agents": {"resourceVersion": "50", "items": reports}, "problems": problems,
    }  # fmt: skip


def report(name: str, rv: int, ago: float) -> dict:
    return {"name": name, "appliedResourceVersion": rv, "lastReport": NOW - ago}


def test_a_healthy_lab():
    text, healthy = status_text(info(
        [proc("apiserver", 10, restart="Never"), proc("kube-proxy/node2", 11, restarts=1, at=NOW - 125),
         proc("tcpdump", 12, alive=False, agent=False, restart="")],
        [], [report("kube-proxy/node2", 50, 3), report("coredns/coredns-abc", 50, 1)]), NOW)  # fmt: skip
    assert healthy
    assert text.splitlines() == [
        "Lab running (run dir /run/labkit)",
        "PROCESS            PID   STATUS    RESTARTS       LAST SYNC",
        "apiserver          10    Running   -              -",
        "kube-proxy/node2   11    Running   1 (2m5s ago)   3s ago",
        "Agents in pods: coredns/coredns-abc (last sync 1s ago)",
        "Addons: coredns",
        "API resourceVersion 50: every agent has applied it",
    ]


def test_a_dead_agent_and_one_behind():
    text, healthy = status_text(info(
        [proc("kube-proxy/node2", 11, alive=False), proc("kubelet/node1", 13)],
        ["kube-proxy/node2 is not running: Service changes do not reach node2"],
        [report("kube-proxy/node2", 40, 300), report("kubelet/node1", 50, 2)]), NOW)  # fmt: skip
    assert not healthy
    lines = text.splitlines()
    assert lines[2].split() == ["kube-proxy/node2", "11", "Dead", "0", "5m", "ago"]
    assert lines[-3] == "API resourceVersion 50; not yet applied by: kube-proxy/node2 (40)"
    assert lines[-2:] == [
        "Problems:", "  kube-proxy/node2 is not running: Service changes do not reach node2"
    ]  # fmt: skip


def test_no_lab():
    assert status_text({"running": False, "run_dir": "/run/labkit"}) == (
        "No lab is running.",
        False,
    )
