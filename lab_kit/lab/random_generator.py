"""Telling the book's random-generator replicas apart: each process answers with its own
UUID (`{"random": ..., "id": ...}`), so asking every pod once directly maps ids to pods."""

from __future__ import annotations

import json


def replica_ids(lab, client: str, selector: str = "app=random-generator", port: int = 8080,
                namespace: str = "default") -> dict[str, str]:  # fmt: skip
    """{id: pod name}, learned by calling each selected pod's IP from `client`."""
    ids = {}
    for pod in lab.get("pods", namespace=namespace, selector=selector):
        ip = (pod.get("status") or {}).get("podIP")
        if not ip:
            continue
        out = lab.exec(client, "curl", "-s", "-m", "2", f"http://{ip}:{port}/", namespace=namespace)
        if out.returncode == 0 and out.stdout.strip():
            ids[json.loads(out.stdout)["id"]] = pod["metadata"]["name"]
    return ids


def who_answered(answers: list[str], ids: dict[str, str]) -> list[str]:
    """The pod behind each answer ("ERR" for failures, "?" for an id of no known pod).
    Answers may carry a leading timestamp (`Lab.requests(..., stamp=True)`)."""
    out = []
    for line in answers:
        body = line.split(" ", 1)[1] if line[:1].isdigit() else line
        try:
            out.append(ids.get(json.loads(body)["id"], "?"))
        except (ValueError, KeyError, TypeError):
            out.append("ERR")
    return out


def stamped(answers: list[str], ids: dict[str, str]) -> list[tuple[float, str]]:
    """(seconds since the first answer, pod) for `Lab.requests(..., stamp=True)` output."""
    times = [float(line.split(" ", 1)[0]) for line in answers]
    t0 = times[0] if times else 0.0
    return [(t - t0, pod) for t, pod in zip(times, who_answered(answers, ids), strict=True)]
