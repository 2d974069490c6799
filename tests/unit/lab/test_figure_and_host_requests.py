"""figure: both renderings in one output; host_requests: one curl per request, ERR on failure."""

from __future__ import annotations

from typing import Any

from lab_kit.lab import access
from lab_kit.lab.figure import figure
from lab_kit.lab.host_requests import host_requests


class FakeGraph:
    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **_: Any) -> dict:
        chosen = set(include or ["image/svg+xml"]) - set(exclude or [])
        return {m: f"<{m}>" for m in sorted(chosen)}


def test_a_figure_carries_svg_and_png():
    bundle = figure(FakeGraph())._repr_mimebundle_()
    assert bundle == {"image/png": "<image/png>", "image/svg+xml": "<image/svg+xml>"}


def test_a_figure_honours_what_the_viewer_excludes():
    assert list(figure(FakeGraph())._repr_mimebundle_(exclude=["image/svg+xml"])) == ["image/png"]


def test_host_requests_curl_once_per_request_and_mark_failures(monkeypatch):
    calls: list[tuple[str, list[str]]] = []
    results = iter([(0, "a"), (28, ""), (0, "b")])

    def run(host: str, argv: list[str]) -> access.Completed:
        calls.append((host, argv))
        rc, out = next(results)
        return access.Completed(argv, rc, out, "")

    monkeypatch.setattr(access, "run_on_host", run)
    assert host_requests("client", "http://172.18.0.2:32766/", 3, timeout_s=1) == ["a", "ERR", "b"]
    assert calls == [("client", ["curl", "-s", "-m", "1", "http://172.18.0.2:32766/"])] * 3
