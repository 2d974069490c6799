"""rootfs._contained: a mount target's symlinks are followed inside the container's root,
never out to the machine's (Debian's /var/run -> /run)."""

from __future__ import annotations

import os

from lab_kit.adapters.rootfs import _contained


def test_links_are_followed_inside_the_root(tmp_path):
    root = tmp_path / "root"
    (root / "run").mkdir(parents=True)
    (root / "var").mkdir()
    os.symlink("/run", root / "var" / "run")  # absolute: re-rooted
    os.symlink("../run", root / "var" / "rel")  # relative
    os.symlink("loop", root / "loop")  # a loop ends after 40 hops, still inside
    base = str(root)
    assert _contained(base, "/var/run/secrets/x") == f"{base}/run/secrets/x"
    assert _contained(base, "/var/rel/y") == f"{base}/run/y"
    assert _contained(base, "/../../etc/passwd") == f"{base}/etc/passwd"
    assert _contained(base, "/loop/z").startswith(base + "/")
