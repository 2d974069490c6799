"""Containers of built-in images forked by the zygote: which commands it takes, and how the
kubelet's side reads the launcher's reports (`pid N`, `error ...`, `exit CODE`) from its
pipe. The container itself (namespaces, root, capabilities) needs root and a lab: see
tests/integration/test_isolation.py."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import pytest

from lab_kit.adapters.sandbox import ForkedContainer
from lab_kit.agents import images, zygote_container
from lab_kit.agents.table import command

zygote_container.preload()
RANDOM_GENERATOR = str(images.WORKLOADS / "random_generator.py")


def test_the_built_in_programs_are_forked():
    workload = images.workload("random_generator", ["--image-version=1.0"]).argv
    assert zygote_container.program_of(workload) == (RANDOM_GENERATOR, ["--image-version=1.0"])
    coredns = command("coredns", "-conf", "/etc/coredns/Corefile")
    assert zygote_container.program_of(coredns) == (
        "agent",
        ["coredns", "-conf", "/etc/coredns/Corefile"],
    )
    for argv in (["sh", "-c", "sleep 1"], ["curl", "-s", "x"],
                 [sys.executable, "-E", "-S", "/tmp/not-a-workload.py"],
                 [sys.executable, "-c", "print(1)"],
                 # a pod's own command naming the lab's programs: exec'd, as it would be
                 ["python3", "-m", "lab_kit.agents", "coredns"],
                 ["python3", "-E", "-S", RANDOM_GENERATOR]):  # fmt: skip
        assert zygote_container.program_of(argv) is None  # exec'd, as before


def test_every_workload_script_has_its_code_kept():
    scripts = {p.name for p in images.WORKLOADS.glob("*.py")} - {"container_init.py", "pause.py"}
    scripts = {s for s in scripts if not s.startswith("_")}
    assert {os.path.basename(p) for p in zygote_container.SCRIPTS} == scripts
    # the pause image's program is cheaper exec'd
    assert zygote_container.program_of(images.workload("pause", []).argv) is None


async def attach(*lines: str, close: bool = True) -> tuple[ForkedContainer, int]:
    read_fd, write_fd = os.pipe()
    os.write(write_fd, "".join(f"{line}\n" for line in lines).encode())
    if close:
        os.close(write_fd)
    return await ForkedContainer.attach(4242, read_fd), write_fd


def test_the_container_pid_then_its_exit_code():
    async def run():
        container, _ = await attach("pid 77", "exit -15")
        assert (container.launcher, container.pid) == (4242, 77)
        codes = await asyncio.gather(container.wait(), container.wait())  # two waiters
        assert codes == [-15, -15] and container.returncode == -15

    asyncio.run(run())


def test_runs_until_the_launcher_says_how_it_ended():
    async def run():
        container, write_fd = await attach("pid 77", close=False)
        waiting = asyncio.ensure_future(container.wait())
        await asyncio.sleep(0.05)
        assert not waiting.done() and container.returncode is None
        os.write(write_fd, b"exit 3\n")
        os.close(write_fd)
        assert await waiting == 3

    asyncio.run(run())


def test_a_launcher_killed_before_it_could_say_counts_as_sigkill():
    async def run():
        container, _ = await attach("pid 77")
        assert await container.wait() == -signal.SIGKILL

    asyncio.run(run())


@pytest.mark.parametrize(
    "lines, message",
    [(["error mount /tmp: Permission denied"], "mount /tmp: Permission denied"),
     ([], "its launcher ended")],
)  # fmt: skip
def test_a_failed_set_up_is_an_error_of_the_start(lines, message):
    with pytest.raises(RuntimeError, match=message):
        asyncio.run(attach(*lines))
