"""The hostile HTTP requests of the corpus (http_cases.py), sent raw over a real Unix
socket to the real aiohttp API server: each gets exactly its status, and a `Status` body
(kind, code and reason as kube-apiserver words them) — a 4xx, never a 500."""

from __future__ import annotations

import pytest
from http_cases import CASES
from raw_http import ServerThread


@pytest.fixture(scope="module")
def server():
    with ServerThread() as running:
        yield running


@pytest.mark.parametrize(
    ("name", "data", "status", "reason", "message"), CASES, ids=[c[0] for c in CASES]
)
def test_a_hostile_request_gets_its_status(server, name, data, status, reason, message):
    answer = server.exchange(data)
    assert answer.status == status
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert (body["kind"], body["apiVersion"], body["status"]) == ("Status", "v1", "Failure")
    assert (body["code"], body["reason"]) == (status, reason)
    assert message in body["message"]


def test_the_corpus_is_large_and_its_names_unique():
    assert len(CASES) >= 80
    assert len({c[0] for c in CASES}) == len(CASES)


def test_the_server_still_serves_after_the_corpus(server):
    for _, data, _, _, _ in CASES:
        server.exchange(data)
    answer = server.exchange(b"GET /readyz HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n")
    assert (answer.status, answer.body) == (200, b"ok")
    assert server.server.inflight.readonly == server.server.inflight.mutating == 0
