"""HTTP requests from a host outside the pods: the outside `client`, `internet`, a node.

`Lab.requests` loops inside a pod; an outside host has no pod, so each request here is one
`curl -s -m TIMEOUT URL` entered into the host's namespaces, one after another:

    answers = host_requests("client", "http://172.18.0.2:32766/", 10)   # "ERR" when one failed
"""

from __future__ import annotations

from lab_kit.lab import access


def host_requests(host: str, url: str, count: int = 10, timeout_s: float = 2.0) -> list[str]:
    """`count` requests from `host`, in order: each answer's body, or "ERR" (curl failed:
    refused, timed out, ...)."""
    answers = []
    for _ in range(count):
        out = access.run_on_host(host, ["curl", "-s", "-m", str(timeout_s), url])
        answers.append(out.stdout if out.returncode == 0 else "ERR")
    return answers
