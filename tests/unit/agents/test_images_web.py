"""images.resolve for the images of Ingress tutorials: nginx (this machine's nginx, set up as
the official image sets it up), praqma/network-multitool's web server, and the
ingress-controller-conformance echo server."""

from __future__ import annotations

import os
import subprocess

import pytest

from lab_kit.agents import images
from lab_kit.agents.images import Program, Unknown, resolve

SETUP_ARGS = ["-e", "stderr", "-c", images.NGINX_CONF]


@pytest.fixture
def nginx_installed(monkeypatch, tmp_path):
    """An executable where images.NGINX points, whether or not this machine has nginx."""
    fake = tmp_path / "nginx"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setattr(images, "NGINX", str(fake))
    return str(fake)


def nginx_argv(program: Program | Unknown) -> list[str]:
    """What the setup script execs: the argv after `sh -c SCRIPT nginx`."""
    assert isinstance(program, Program), program
    assert program.argv[:2] == ["sh", "-c"] and program.argv[3] == "nginx"
    return program.argv[4:]


def script(program: Program | Unknown) -> str:
    assert isinstance(program, Program), program
    return program.argv[2]


def test_nginx_default_is_the_official_cmd_through_the_entrypoint(nginx_installed):
    program = resolve({"image": "nginx:1.27"})
    assert nginx_argv(program) == [nginx_installed, *SETUP_ARGS, "-g", "daemon off;"]
    assert script(program).startswith("page=nginx entrypoint=1\n")
    assert "Configuration complete; ready for start up" in script(program)
    assert resolve({"image": "docker.io/library/nginx@sha256:" + "ab" * 32}) == resolve(
        {"image": "nginx"}
    )


def test_nginx_setup_is_the_official_configuration_under_tmp():
    setup = images.NGINX_SETUP
    assert 'cat > "$d/nginx.conf"' in setup and "d=/tmp/nginx" in setup
    assert images.NGINX_CONF == "/tmp/nginx/nginx.conf"
    for line in (
        "access_log  /dev/stdout  main;",
        "error_log  /dev/stderr notice;",
        "root   $root;",
        "root=/usr/share/nginx/html port=80",
        "index  index.html index.htm;",
        "include /etc/nginx/conf.d/*.conf;",  # a volume there replaces the default server
        "client_body_temp_path  $d/client_temp;",
        "pid        /run/nginx.pid;",
    ):
        assert line in setup, line
    assert setup.rstrip().endswith('exec "$@"')


def test_nginx_command_runs_nginx_without_the_entrypoint_lines(nginx_installed):
    program = resolve({"image": "nginx", "command": ["nginx"], "args": ["-g", "daemon off;"]})
    assert nginx_argv(program) == [nginx_installed, *SETUP_ARGS, "-g", "daemon off;"]
    assert script(program).startswith("page=nginx entrypoint=0\n")
    program = resolve({"image": "nginx", "command": ["/usr/sbin/nginx", "-T"]})
    assert nginx_argv(program) == [nginx_installed, *SETUP_ARGS, "-T"]


@pytest.mark.parametrize(
    "args, ours",
    [
        (["-c", "/etc/nginx/mine.conf", "-g", "daemon off;"], ["-e", "stderr"]),
        (["-c/etc/nginx/mine.conf"], ["-e", "stderr"]),
        (["-tc", "/x.conf"], ["-e", "stderr"]),
        (["-e", "/dev/null", "-t"], ["-c", images.NGINX_CONF]),
        (["-g", "error_log x; -c y;"], SETUP_ARGS),  # a value, not an option
        (["-p", "/srv/", "-q"], SETUP_ARGS),
    ],
)
def test_nginx_options_of_the_user_win(nginx_installed, args, ours):
    program = resolve({"image": "nginx", "args": ["nginx", *args]})
    assert nginx_argv(program) == [nginx_installed, *ours, *args]


def test_nginx_entrypoint_runs_other_commands_with_the_machines_tools(nginx_installed):
    program = resolve({"image": "nginx", "args": ["sh", "-c", "echo hi"]})
    assert program == Program(
        ["sh", "-c", 'exec "$@"', "/docker-entrypoint.sh", "sh", "-c", "echo hi"]
    )
    assert resolve({"image": "nginx", "command": ["sleep", "infinity"]}) == Program(
        ["sleep", "infinity"]
    )


def test_nginx_debug_is_nginx(nginx_installed):
    program = resolve({"image": "nginx", "args": ["nginx-debug", "-g", "daemon off;"]})
    assert nginx_argv(program) == [nginx_installed, *SETUP_ARGS, "-g", "daemon off;"]


@pytest.mark.parametrize(
    "container",
    [
        {"image": "nginx"},
        {"image": "nginx", "command": ["nginx"]},
        {"image": "praqma/network-multitool"},
    ],
)
def test_nginx_missing_says_how_to_install_it(monkeypatch, tmp_path, container):
    monkeypatch.setattr(images, "NGINX", str(tmp_path / "no-nginx"))
    result = resolve(container)
    assert isinstance(result, Unknown) and result.reason == "CreateContainerError"
    assert "scripts/install.sh" in result.message and str(tmp_path / "no-nginx") in result.message


def test_network_multitool_serves_its_own_page_with_nginx(nginx_installed):
    program = resolve({"image": "praqma/network-multitool"})
    assert nginx_argv(program) == [nginx_installed, *SETUP_ARGS, "-g", "daemon off;"]
    assert script(program).startswith("page=multitool entrypoint=0\n")
    assert "Praqma Network MultiTool (with NGINX) - $(hostname) - $ip" in images.NGINX_SETUP
    assert "port=${HTTP_PORT:-80}" in images.NGINX_SETUP


@pytest.mark.parametrize(
    "image",
    [
        "k8s.gcr.io/ingressconformance/echoserver:v0.0.1",
        "registry.k8s.io/ingressconformance/echoserver:v0.0.1@sha256:" + "9b" * 32,
    ],
)
def test_conformance_echoserver(image):
    program = resolve({"image": image})
    assert program == Program([images.PYTHON, "-E", "-S", str(images.WORKLOADS / "echoserver.py")])
    assert (images.WORKLOADS / "echoserver.py").is_file()


def test_conformance_echoserver_is_distroless():
    result = resolve({"image": "registry.k8s.io/ingressconformance/echoserver", "command": ["sh"]})
    assert isinstance(result, Unknown) and result.reason == "RunContainerError"


@pytest.mark.skipif(not os.access(images.NGINX, os.X_OK), reason="this machine has no nginx")
@pytest.mark.parametrize("page", ["nginx", "multitool"])
def test_the_written_configuration_passes_nginx_t(tmp_path, page):
    """The setup script (its directory moved from the container's /tmp to a test directory)
    writes a configuration this machine's nginx accepts; `nginx -t` opens no socket."""
    setup = images.NGINX_SETUP.replace("d=/tmp/nginx", f"d={tmp_path}")
    assert setup != images.NGINX_SETUP
    conf = tmp_path / "nginx.conf"
    env = {"PATH": os.environ["PATH"], "page": page, "entrypoint": "0"}
    done = subprocess.run(
        ["sh", "-c", setup, "nginx", images.NGINX, "-e", "stderr", "-c", str(conf), "-t"],
        env=env, capture_output=True, text=True, timeout=10,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr
    text = conf.read_text()
    assert "listen       80;" in text and "$remote_addr - $remote_user" in text
    if page == "multitool":
        assert (
            (tmp_path / "html" / "index.html")
            .read_text()
            .startswith("Praqma Network MultiTool (with NGINX) - ")
        )
    else:
        assert "root   /usr/share/nginx/html;" in text
