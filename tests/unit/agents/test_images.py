"""images.resolve: Kubernetes' command/args rules, image names, and what runs argv[0]."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from lab_kit.agents import images, table
from lab_kit.agents.images import Program, Unknown, resolve

WORKLOADS = images.WORKLOADS
AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.43"
DIGEST = "sha256:" + "0123456789abcdef" * 4


def workload(name: str, *args: str) -> list[str]:
    return [images.PYTHON, "-E", "-S", str(WORKLOADS / f"{name}.py"), *args]


def argv(**container) -> list[str]:
    program = resolve(container)
    assert isinstance(program, Program), program
    return program.argv


# --- command and args ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "command, args, expected",
    [
        (None, None, ["sh"]),  # image ENTRYPOINT (none) + CMD
        (["sleep", "3600"], None, ["sleep", "3600"]),  # command replaces ENTRYPOINT, drops CMD
        (None, ["echo", "hi"], ["echo", "hi"]),  # args replace CMD
        (["sh", "-c"], ["echo $HOSTNAME"], ["sh", "-c", "echo $HOSTNAME"]),
        ([], [], ["sh"]),  # empty lists count as not given
    ],
)
def test_command_replaces_entrypoint_and_args_replace_cmd(command, args, expected):
    assert argv(image="busybox:1.36", command=command, args=args) == expected


def test_args_are_appended_to_an_entrypoint():
    assert argv(image="k8spatterns/curl-jq", args=["-s", "http://x"]) == ["curl", "-s", "http://x"]
    assert argv(image="k8spatterns/curl-jq") == ["curl"]  # ENTRYPOINT ["curl"], no CMD
    assert argv(image="k8spatterns/curl-jq", command=["sleep", "infinity"]) == ["sleep", "infinity"]


@pytest.mark.parametrize(
    "image, expected",
    [
        ("busybox", ["sh"]),
        ("alpine:3.20", ["/bin/sh"]),
        ("ubuntu:24.04", ["/bin/bash"]),
        ("debian:bookworm", ["bash"]),
        ("nicolaka/netshoot", ["sh"]),
        ("registry.k8s.io/e2e-test-images/busybox:1.29-4", ["sh"]),
    ],
)
def test_toolbox_default_is_a_shell(image, expected):
    assert argv(image=image) == expected


def test_resolve_does_not_change_the_container():
    container = {"image": "busybox", "command": ["sh"], "args": ["-c", "true"]}
    resolve(container)
    assert container == {"image": "busybox", "command": ["sh"], "args": ["-c", "true"]}


# --- image names ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "image",
    [
        "busybox",
        "busybox:1.36",
        "docker.io/busybox",
        "docker.io/library/busybox:1.36",
        "index.docker.io/library/busybox",
        f"busybox@{DIGEST}",
        f"docker.io/library/busybox:1.36@{DIGEST}",
    ],
)
def test_docker_hub_names_are_normalised(image):
    assert images.parse_reference(image)[0] == "busybox"
    assert argv(image=image, command=["true"]) == ["true"]
    assert argv(image=image) == ["sh"]


def test_tags_and_digests_are_split_off():
    assert images.parse_reference("k8spatterns/random-generator:2.0") == (
        "k8spatterns/random-generator",
        "2.0",
        None,
    )
    assert images.parse_reference(f"{AGNHOST}@{DIGEST}") == (
        "registry.k8s.io/e2e-test-images/agnhost",
        "2.43",
        DIGEST,
    )
    assert images.parse_reference("localhost:5000/busybox") == (
        "localhost:5000/busybox",
        None,
        None,
    )


def test_another_registry_is_another_image():
    result = resolve({"image": "localhost:5000/busybox"})
    assert isinstance(result, Unknown) and result.reason == "ErrImagePull"


def test_invalid_image_name_is_reported_as_kubelet_does():
    assert resolve({"image": "Nginx"}) == Unknown(
        "InvalidImageName",
        'Failed to apply default image tag "Nginx": couldn\'t parse image name "Nginx": '
        "invalid reference format: repository name (library/Nginx) must be lowercase",
    )
    for bad in ("busybox:", "bus box", "busybox@sha256:abc", "-busybox", "a//b"):
        result = resolve({"image": bad, "command": ["true"]})
        assert result == Unknown(
            "InvalidImageName",
            f'Failed to apply default image tag "{bad}": '
            f'couldn\'t parse image name "{bad}": invalid reference format',
        )


# --- images lab_kit does not know --------------------------------------------------------------


def test_unknown_image_without_command_cannot_be_pulled():
    result = resolve({"image": "httpd:2.4", "args": ["httpd-foreground"]})
    assert isinstance(result, Unknown)
    assert result.reason == "ErrImagePull"
    assert result.message.startswith(
        'lab_kit has no built-in workload for image "httpd:2.4"; give the container a command '
        "(it runs with this machine's tools) or use one of: k8spatterns/random-generator, "
        "registry.k8s.io/e2e-test-images/agnhost, registry.k8s.io/pause, busybox,"
    )
    assert "k8s.gcr.io" not in result.message


def test_unknown_image_with_command_runs_it_with_this_machines_tools():
    assert argv(image="httpd:2.4", command=["sh", "-c"], args=["echo hi"]) == [
        "sh",
        "-c",
        "echo hi",
    ]


# --- built-in workloads --------------------------------------------------------------------


@pytest.mark.parametrize("tag, version", [("1.0", "1.0"), ("2.0", "2.0"), ("latest", "1.0")])
def test_random_generator_reports_its_tag_as_version(tag, version):
    image = f"k8spatterns/random-generator:{tag}"
    assert argv(image=image) == workload("random_generator", f"--image-version={version}")
    assert argv(image="docker.io/k8spatterns/random-generator") == workload(
        "random_generator", "--image-version=1.0"
    )


def test_random_generator_args_go_to_the_application():
    image = "k8spatterns/random-generator:1.0"
    expected = workload("random_generator", "--image-version=1.0", "--server.port=9090")
    assert argv(image=image, args=["--server.port=9090"]) == expected
    command = ["java", "-Xmx64m", "-jar", "/opt/random-generator.jar"]
    assert argv(image=image, command=command, args=["--server.port=9090"]) == expected
    assert argv(image=image, command=["java", "-jar", "random-generator.jar"]) == workload(
        "random_generator", "--image-version=1.0"
    )


def test_random_generator_image_runs_other_commands_with_this_machines_tools():
    image = "k8spatterns/random-generator:1.0"
    assert argv(image=image, command=["stat", "/opt/random-generator-ready"]) == [
        "stat",
        "/opt/random-generator-ready",
    ]
    result = resolve({"image": image, "command": ["java", "RandomRunner", "/tmp/r.log", "10"]})
    assert isinstance(result, Unknown) and result.reason == "CreateContainerError"
    assert "RandomRunner" in result.message


@pytest.mark.parametrize(
    "image",
    [AGNHOST, "k8s.gcr.io/e2e-test-images/agnhost:2.39", "registry.k8s.io/e2e-test-images/agnhost"],
)
def test_agnhost_entrypoint_and_default_cmd(image):
    assert argv(image=image) == workload("agnhost", "pause")
    assert argv(image=image, args=["netexec", "--http-port=8080"]) == workload(
        "agnhost", "netexec", "--http-port=8080"
    )


def test_agnhost_binary_in_a_command_is_the_workload():
    assert argv(image=AGNHOST, command=["/agnhost", "serve-hostname"]) == workload(
        "agnhost", "serve-hostname"
    )
    assert argv(image=AGNHOST, command=["agnhost"], args=["netexec"]) == workload(
        "agnhost", "netexec"
    )
    assert argv(image=AGNHOST, command=["sh", "-c", "sleep 1"]) == ["sh", "-c", "sleep 1"]


def test_agnhost_unknown_subcommand_runs_and_fails_as_agnhost_does():
    assert argv(image=AGNHOST, args=["netexc"]) == workload("agnhost", "netexc")


@pytest.mark.parametrize("args", [["porter"], ["--v=2", "liveness"], ["--v", "2", "dns-suffix"]])
def test_agnhost_subcommands_lab_kit_lacks_are_reported(args):
    result = resolve({"image": AGNHOST, "args": args})
    assert isinstance(result, Unknown) and result.reason == "CreateContainerError"
    assert "built in: netexec, serve-hostname, pause" in result.message


def test_pause_image():
    assert argv(image="registry.k8s.io/pause:3.9") == workload("pause")
    assert argv(image="k8s.gcr.io/pause:3.2", args=["-v"]) == workload("pause", "-v")
    result = resolve({"image": "registry.k8s.io/pause:3.9", "command": ["sh"]})
    assert result == Unknown(
        "RunContainerError",
        "failed to create containerd task: failed to create shim task: OCI runtime create "
        "failed: runc create failed: unable to start container process: "
        'exec: "sh": executable file not found in $PATH: unknown',
    )


def test_network_multitool_runs_commands_with_the_machines_tools():
    # (its default web server: tests/unit/agents/test_images_web.py)
    assert argv(image="praqma/network-multitool", args=["sleep", "infinity"]) == [
        "sleep",
        "infinity",
    ]


def test_every_runner_of_the_table_runs_something_or_says_why():
    """Each image's own programs resolve through its runner (no string names a module)."""
    for repository, image in images.IMAGES.items():
        for program, runner in image.programs.items():
            result = runner(images.Launch([program], repository, None))
            assert isinstance(result, Program | Unknown), (repository, program)
            if isinstance(result, Program) and result.api_access:
                assert result.argv[1:3] == ["-m", "lab_kit.agents"]
                assert result.argv[3] in table.AGENTS


def test_every_workload_program_exists():
    for name in ("random_generator", "agnhost", "pause"):
        assert Path(workload(name)[3]).is_file()


# --- curlimages/curl's entrypoint, run with this machine's sh --------------------------------


@pytest.mark.skipif(not shutil.which("curl"), reason="needs curl on this machine")
@pytest.mark.parametrize(
    "args, expected",
    [
        (["--version"], "curl "),  # a flag: curl is put in front
        (["curl", "--version"], "curl "),  # a command: run as given
        (["echo", "hello"], "hello"),
        ([], "curl: try 'curl --help'"),  # CMD ["curl"]
    ],
)
def test_curlimages_entrypoint(args, expected):
    program = resolve({"image": "curlimages/curl:8.8.0", "args": args})
    done = subprocess.run(program.argv, capture_output=True, text=True, timeout=10)
    assert (done.stdout + done.stderr).startswith(expected)


# --- cluster DNS --------------------------------------------------------------------------------


def test_coredns_runs_the_labs_cluster_dns_server_with_api_access():
    result = resolve(
        {
            "image": "registry.k8s.io/coredns/coredns:v1.11.3",
            "args": ["-conf", "/etc/coredns/Corefile"],
        }
    )
    assert isinstance(result, Program) and result.api_access
    assert result.argv[1:] == ["-m", "lab_kit.agents", "coredns", "-conf", "/etc/coredns/Corefile"]


def test_corednss_image_has_no_shell():
    result = resolve(
        {"image": "registry.k8s.io/coredns/coredns:v1.11.3", "command": ["sh", "-c", "true"]}
    )
    assert isinstance(result, Unknown) and result.reason == "RunContainerError"
