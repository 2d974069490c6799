"""figure: both renderings in one output; requests_from: one bounded loop on the host."""

from __future__ import annotations

from typing import Any

from lab_kit.lab import access, from_outside
from lab_kit.lab.figure import figure


class FakeGraph:
    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **_: Any) -> dict:
        chosen = set(include or ["image/svg+xml"]) - set(exclude or [])
        return {m: f"<{m}>" for m in sorted(chosen)}


def test_a_figure_carries_svg_and_png():
    bundle = figure(FakeGraph())._repr_mimebundle_()
    assert bundle == {"image/png": "<image/png>", "image/svg+xml": "<image/svg+xml>"}


def test_a_figure_honours_what_the_viewer_excludes():
    assert list(figure(FakeGraph())._repr_mimebundle_(exclude=["image/svg+xml"])) == ["image/png"]


def test_a_wide_graph_is_scaled_to_the_notebook_pane():
    import re

    import graphviz

    g = graphviz.Digraph(graph_attr={"rankdir": "LR"})
    for i in range(12):  # a long packet path: far wider than 9 inches at its natural size
        g.edge(f"hop {i} with a long label", f"hop {i + 1} with a long label")
    svg = figure(g)._repr_mimebundle_()["image/svg+xml"]
    width_pt = float(re.search(r'<svg width="([0-9.]+)pt"', svg).group(1))
    assert width_pt <= 9 * 72 + 1


def test_requests_from_runs_one_bounded_loop_on_the_host(monkeypatch):
    calls: list[tuple[str, list[str], float]] = []

    def run(host: str, argv: list[str], timeout_s: float) -> access.Completed:
        calls.append((host, argv, timeout_s))
        return access.Completed(argv, 0, "a\nERR\nb\n", "")

    monkeypatch.setattr(from_outside, "run_on_host", run)
    url = "http://172.18.0.2:32766/"
    assert from_outside.requests_from("client", url, 3, timeout_s=1) == ["a", "ERR", "b"]
    assert calls == [("client", access.requests_command(url, 3, 1, False), 3 * 2 + 10)]
