"""Which program runs for a container: Kubernetes' command/args rules over the image table.

Images are not pulled. Like a container runtime, `resolve` first builds the container's argv
from the pod and the image (Kubernetes' rules; an empty list counts as not given):

    command and args  ->  command + args
    command only      ->  command               (the image's CMD is dropped)
    args only         ->  image ENTRYPOINT + args
    neither           ->  image ENTRYPOINT + image CMD

then asks the image's table entry who runs argv[0]: one of the image's own programs (a
*runner*: a built-in workload such as /agnhost, or an agent of `lab_kit/agents/table.py`
such as CoreDNS's /coredns), or, for an image with a userland, this machine's tools
(`sh -c ...`, `curl`, `sleep infinity`). A command for an image lab_kit does not know also
runs with this machine's tools; without one, the container waits with ErrImagePull.

Adding an image is one entry in `IMAGES`: its ENTRYPOINT and CMD, and a runner for each of
its own programs. Runners are plain functions, so what an image runs is an import that the
layer check sees, never a module named in a string.

Pure but for one look at the machine: whether a program an image borrows from it (nginx) is
installed. `$(VAR)` references in command/args are expanded by the kubelet beforehand.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lab_kit import workloads
from lab_kit.adapters.sandbox import Installation
from lab_kit.agents import table
from lab_kit.workloads import agnhost

WORKLOADS = Path(workloads.__file__).resolve().parent

ERR_IMAGE_PULL = "ErrImagePull"
INVALID_IMAGE_NAME = "InvalidImageName"
CREATE_CONTAINER_ERROR = "CreateContainerError"
RUN_CONTAINER_ERROR = "RunContainerError"


@dataclass(frozen=True)
class Program:
    """What the kubelet runs inside the pod: `argv` (argv[0] looked up on PATH), with the
    container's environment plus `env_extra` (what the image's own ENV would add; the
    container's env wins over it)."""

    argv: list[str]
    env_extra: dict[str, str] = field(default_factory=dict)
    api_access: bool = False  # the kubelet gives it the API socket (LABKIT_APISERVER)


@dataclass(frozen=True)
class Unknown:
    """A container lab_kit cannot run: the waiting `reason` and `message` kubelet shows."""

    reason: str
    message: str


@dataclass(frozen=True)
class Launch:
    """What a runner is asked to run: the container's argv (argv[0] is one of the image's
    programs), the image as written, and its tag."""

    argv: list[str]
    image: str
    tag: str | None


Runner = Callable[[Launch], "Program | Unknown"]


@dataclass(frozen=True)
class Image:
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    programs: dict[str, Runner] = field(default_factory=dict)  # basename of argv[0] -> runner
    userland: bool = True  # has a shell and tools: other commands run with this machine's


# --- runners --------------------------------------------------------------------------------


# The machine's own Python, not the project's virtualenv (containers cannot see it): the
# built-in workloads need only its standard library.
PYTHON = os.path.realpath(sys.executable)


def installation() -> Installation:
    """What of lab_kit the container runtime shows containers (its init, the workloads)."""
    return Installation(str(WORKLOADS / "container_init.py"), str(WORKLOADS))


def workload(module: str, args: list[str]) -> Program:
    """A built-in workload: this Python, standard library only (-S), PYTHON* env ignored (-E)."""
    return Program([PYTHON, "-E", "-S", str(WORKLOADS / f"{module}.py"), *args])


def run_pause(launch: Launch) -> Program | Unknown:
    return workload("pause", launch.argv[1:])


def run_agnhost(launch: Launch) -> Program | Unknown:
    subcommand, _ = agnhost.split_subcommand(launch.argv[1:])
    if subcommand in agnhost.NOT_BUILT_IN:
        return Unknown(CREATE_CONTAINER_ERROR, agnhost.not_built_in_message(subcommand))
    return workload("agnhost", launch.argv[1:])


def run_random_generator(launch: Launch) -> Program | Unknown:
    """`java [options] -jar .../random-generator.jar [args]` is the service; the image's other
    java programs (RandomRunner, the book's batch job) are not built in."""
    argv = launch.argv
    jar = argv.index("-jar") + 1 if "-jar" in argv else 0
    options_only = all(arg.startswith("-") for arg in argv[1 : jar - 1])
    if jar and jar < len(argv) and options_only and argv[jar].endswith("random-generator.jar"):
        version = launch.tag if launch.tag and launch.tag != "latest" else "1.0"
        return workload("random_generator", [f"--image-version={version}", *argv[jar + 1 :]])
    return Unknown(
        CREATE_CONTAINER_ERROR,
        "lab_kit's k8spatterns/random-generator runs only the service "
        f"(java -jar /opt/random-generator.jar), not {_q(' '.join(argv))}",
    )


def run_eureka(launch: Launch) -> Program | Unknown:
    """springcloud/eureka: a Spring Boot jar (`java [options] -jar <jar> [--name=value]`);
    lab_kit's Eureka server (workloads/registry_server.py) takes the same arguments."""
    argv = launch.argv
    if "-jar" in argv and argv.index("-jar") + 1 < len(argv):
        return workload("registry_server", argv[argv.index("-jar") + 2 :])
    return Unknown(
        CREATE_CONTAINER_ERROR,
        f"lab_kit's springcloud/eureka runs only its server (java -jar ...), not {_q(' '.join(argv))}",
    )


def run_discovery_client(launch: Launch) -> Program | Unknown:
    return workload("discovery_consumer", launch.argv[1:])


def ko_app(module: str, *args: str) -> Runner:
    """A Knative image built by ko (distroless, ENTRYPOINT /ko-app/<name>): one program."""

    def run(launch: Launch) -> Program | Unknown:
        return workload(module, [*args, *launch.argv[1:]])

    return run


# curl/curl-container's etc/entrypoint.sh, run with this machine's sh.
CURL_ENTRYPOINT = """set -e
if [ "${1#-}" != "${1}" ] || [ -z "$(command -v "${1}")" ]; then
  set -- curl "$@"
fi
exec "$@"
"""


def run_curl_entrypoint(launch: Launch) -> Program | Unknown:
    return Program(["sh", "-c", CURL_ENTRYPOINT, launch.argv[0], *launch.argv[1:]])


def not_built_in(launch: Launch) -> Program | Unknown:
    return Unknown(
        CREATE_CONTAINER_ERROR,
        f"lab_kit has no built-in workload for {launch.argv[0]} of image {_q(launch.image)}; "
        "give the container a command (it runs with this machine's tools)",
    )


def run_echoserver(launch: Launch) -> Program | Unknown:
    """The conformance echo server takes no arguments (its Go main parses none)."""
    return workload("echoserver", launch.argv[1:])


# --- nginx: this machine's nginx, set up as nginx's official image sets it up ---------------
#
# The official image (nginxinc/docker-nginx) is nginx.org's package with /etc/nginx/nginx.conf
# and conf.d/default.conf: a server on port 80 ([::]:80 too when the kernel has IPv6) with
# root /usr/share/nginx/html, access log in the "main" format to stdout and the error log to
# stderr (the image symlinks /var/log/nginx/*.log to them), workers as an unprivileged user.
# Containers see the machine's root with a private /tmp and /run, so the script below writes
# that configuration under /tmp and starts Debian's nginx on it: nginx's own pages
# (/usr/share/nginx/html/index.html is the same "Welcome to nginx!" page), Debian's nginx
# version. A volume mounted at /etc/nginx/conf.d or /usr/share/nginx/html replaces what it
# replaces in the real image. Left out: the 50x.html error page, the entrypoint's
# /docker-entrypoint.d scripts (templates, resolvers), STOPSIGNAL SIGQUIT (the kubelet sends
# SIGTERM: nginx's fast shutdown).

NGINX = "/usr/sbin/nginx"  # Debian's package: scripts/install.sh installs it
NGINX_CONF = "/tmp/nginx/nginx.conf"  # in the container's own /tmp
NGINX_SETUP = r"""set -e
d=/tmp/nginx root=/usr/share/nginx/html port=80
mkdir -p "$d"
if [ "$page" = multitool ]; then
  port=${HTTP_PORT:-80}
  if mountpoint -q "$root"; then
    echo "The directory $root is a volume mount. Will not over-write index.html ."
  else
    echo "The directory $root is not mounted."
    echo "Over-writing the default index.html file with some useful information."
    root=$d/html
    mkdir -p "$root"
    ip=$(ip -j route get 1 | jq -r '.[0] .prefsrc' || true)
    echo "Praqma Network MultiTool (with NGINX) - $(hostname) - $ip" > "$root/index.html"
  fi
fi
if ls /etc/nginx/conf.d/*.conf >/dev/null 2>&1; then
  servers='include /etc/nginx/conf.d/*.conf;'
else
  v6=''
  if [ -f /proc/net/if_inet6 ]; then v6="listen  [::]:$port;"; fi
  servers="server {
        listen       $port;
        $v6
        server_name  localhost;

        location / {
            root   $root;
            index  index.html index.htm;
        }
    }"
fi
cat > "$d/nginx.conf" <<EOF
user  www-data;
worker_processes  auto;

error_log  /dev/stderr notice;
pid        /run/nginx.pid;

events {
    worker_connections  1024;
}

http {
    include       /etc/nginx/mime.types;
    default_type  application/octet-stream;

    log_format  main  '\$remote_addr - \$remote_user [\$time_local] "\$request" '
                      '\$status \$body_bytes_sent "\$http_referer" '
                      '"\$http_user_agent" "\$http_x_forwarded_for"';

    access_log  /dev/stdout  main;

    sendfile        on;
    keepalive_timeout  65;

    client_body_temp_path  $d/client_temp;
    proxy_temp_path        $d/proxy_temp;
    fastcgi_temp_path      $d/fastcgi_temp;
    uwsgi_temp_path        $d/uwsgi_temp;
    scgi_temp_path         $d/scgi_temp;

    $servers
}
EOF
if [ "$entrypoint" = 1 ] && [ -z "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ]; then
  echo "/docker-entrypoint.sh: Configuration complete; ready for start up"
fi
exec "$@"
"""
# nginx's options that take a value (-c file, -e file, -g directives, -p prefix, -s signal).
NGINX_VALUE_OPTIONS = "cegps"


def nginx_options(args: list[str]) -> set[str]:
    """The option letters on an nginx command line, read as nginx reads them ("-tq",
    "-c file", "-cfile")."""
    letters: set[str] = set()
    i = 0
    while i < len(args) and args[i].startswith("-"):
        arg, i = args[i], i + 1
        for j, letter in enumerate(arg[1:], 1):
            letters.add(letter)
            if letter in NGINX_VALUE_OPTIONS:
                i += 1 if j == len(arg) - 1 else 0  # the value is the next argument
                break
    return letters


def nginx_program(
    args: list[str], page: str = "nginx", entrypoint: bool = False
) -> Program | Unknown:
    """`nginx ARGS` on NGINX_SETUP's configuration (unless ARGS name their own with -c);
    `-e stderr` so that nginx does not open its compiled-in /var/log/nginx/error.log first."""
    if not os.access(NGINX, os.X_OK):
        return Unknown(
            CREATE_CONTAINER_ERROR,
            f"lab_kit runs nginx images with this machine's nginx ({NGINX}), which is not "
            "installed: run sudo scripts/install.sh (it installs Debian's nginx package)",
        )
    given = nginx_options(args)
    ours = [] if "e" in given else ["-e", "stderr"]
    ours += [] if "c" in given else ["-c", NGINX_CONF]
    script = f"page={page} entrypoint={int(entrypoint)}\n{NGINX_SETUP}"
    return Program(["sh", "-c", script, "nginx", NGINX, *ours, *args])


def run_nginx(launch: Launch) -> Program | Unknown:
    return nginx_program(launch.argv[1:])


def run_nginx_entrypoint(launch: Launch) -> Program | Unknown:
    """The official image's /docker-entrypoint.sh: configures and starts nginx when the
    command is nginx (or nginx-debug: Debian has one nginx), else runs the command."""
    rest = launch.argv[1:]
    if rest and rest[0].rsplit("/", 1)[-1] in ("nginx", "nginx-debug"):
        return nginx_program(rest[1:], entrypoint=True)
    return Program(["sh", "-c", 'exec "$@"', launch.argv[0], *rest])


def run_multitool_nginx(launch: Launch) -> Program | Unknown:
    """praqma/network-multitool's web server: its one-line page (the pod's name and address)
    on $HTTP_PORT (80); its HTTPS server on 443 is not built in."""
    return nginx_program(launch.argv[1:], page="multitool")


def agent(name: str) -> Runner:
    """A runner that starts agent `name` of the agent table (it needs lab_kit and its
    libraries, so it is not a stdlib-only workload), with the API socket."""
    table.AGENTS[name]  # an unknown agent fails at import time, not in a pod

    def run(launch: Launch) -> Program | Unknown:
        return Program(table.command(name, *launch.argv[1:]), api_access=True)

    return run


def run_ingress_nginx(launch: Launch) -> Program | Unknown:
    """ingress-nginx's image: ENTRYPOINT ["/usr/bin/dumb-init", "--"], CMD
    ["/nginx-ingress-controller"]; the controller is the agent of that name."""
    argv = launch.argv[1:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if argv and argv[0].rsplit("/", 1)[-1] == "nginx-ingress-controller":
        return Program(table.command("nginx-ingress-controller", *argv[1:]), api_access=True)
    return Unknown(
        CREATE_CONTAINER_ERROR,
        "lab_kit's ingress-nginx controller image runs only /nginx-ingress-controller, "
        f"not {_q(' '.join(argv))}",
    )


# --- the table ------------------------------------------------------------------------------

AGNHOST = Image(("/agnhost",), ("pause",), {"agnhost": run_agnhost, "agnhost-2": run_agnhost})
PAUSE = Image(("/pause",), programs={"pause": run_pause}, userland=False)
SHELL = Image(cmd=("sh",))
# CoreDNS's image is distroless: ENTRYPOINT ["/coredns"], no shell. kubeadm runs it with
# args ["-conf", "/etc/coredns/Corefile"].
COREDNS = Image(("/coredns",), programs={"coredns": agent("coredns")}, userland=False)
ECHOSERVER = Image(("/echoserver",), programs={"echoserver": run_echoserver}, userland=False)
NGINX_PROGRAMS: dict[str, Runner] = {
    "docker-entrypoint.sh": run_nginx_entrypoint,
    "nginx": run_nginx,
    "nginx-debug": run_nginx,
}

# Repository (registry host docker.io, "library/", tag and digest removed) -> the image.
IMAGES: dict[str, Image] = {
    # The Kubernetes Patterns book's service (Dockerfile: WORKDIR /opt,
    # ENTRYPOINT ["java", "-jar", "/opt/random-generator.jar"]; an openjdk userland).
    "k8spatterns/random-generator": Image(
        ("java", "-jar", "/opt/random-generator.jar"), programs={"java": run_random_generator}
    ),
    # Kubernetes' e2e test image: ENTRYPOINT ["/agnhost"], CMD ["pause"]; alpine-based.
    "registry.k8s.io/e2e-test-images/agnhost": AGNHOST,
    "k8s.gcr.io/e2e-test-images/agnhost": AGNHOST,
    # The pod sandbox image: FROM scratch, only ENTRYPOINT ["/pause"].
    "registry.k8s.io/pause": PAUSE,
    "k8s.gcr.io/pause": PAUSE,
    # Toolboxes: no program of their own. Their default CMD is a shell, which exits at once
    # without a TTY, so the container completes, as the real one does.
    "busybox": SHELL,
    "registry.k8s.io/e2e-test-images/busybox": SHELL,
    "k8s.gcr.io/e2e-test-images/busybox": SHELL,
    "alpine": Image(cmd=("/bin/sh",)),
    "ubuntu": Image(cmd=("/bin/bash",)),
    "debian": Image(cmd=("bash",)),
    "nicolaka/netshoot": SHELL,  # the real CMD is ["zsh"], which this machine may lack
    # curl's images: curlimages/curl's /entrypoint.sh prefixes "curl" unless the first
    # argument is a command (so `args: [-s, http://x]` runs curl); the book's curl-jq has
    # ENTRYPOINT ["curl"] (so the book runs it with `--command -- sleep infinity`).
    "curlimages/curl": Image(
        ("/entrypoint.sh",), ("curl",), {"entrypoint.sh": run_curl_entrypoint}
    ),
    "k8spatterns/curl-jq": Image(("curl",)),
    # Serves a page with nginx by default (this machine's, see NGINX_SETUP); other
    # commands run as in a toolbox.
    "praqma/network-multitool": Image(
        cmd=("/usr/sbin/nginx", "-g", "daemon off;"), programs={"nginx": run_multitool_nginx}
    ),
    # nginx's official image (Debian-based): ENTRYPOINT ["/docker-entrypoint.sh"],
    # CMD ["nginx", "-g", "daemon off;"]; nginx is this machine's (see NGINX_SETUP).
    "nginx": Image(("/docker-entrypoint.sh",), ("nginx", "-g", "daemon off;"), NGINX_PROGRAMS),
    # ingress-controller-conformance's echo server (its test/kubernetes/deployment.go's
    # EchoContainer, k8s.gcr.io now served by registry.k8s.io): distroless.
    "k8s.gcr.io/ingressconformance/echoserver": ECHOSERVER,
    "registry.k8s.io/ingressconformance/echoserver": ECHOSERVER,
    # Spring Cloud's sample Eureka server (port 8761, REST under /eureka): a Spring Boot jar.
    "springcloud/eureka": Image(("java", "-jar", "/app.jar"), programs={"java": run_eureka}),
    # lab_kit's own image (no such image upstream): a consumer that discovers its producer
    # itself, through Eureka or the Kubernetes API (workloads/discovery_consumer.py).
    "lab-kit/discovery-client": Image(
        ("/discovery-client",), programs={"discovery-client": run_discovery_client}
    ),
    # Knative's sample apps and the queue-proxy sidecar its Revisions get (ko-built)
    "ghcr.io/knative/helloworld-go": Image(
        ("/ko-app/helloworld-go",),
        programs={"helloworld-go": ko_app("helloworld", "hello")},
        userland=False,
    ),
    "ghcr.io/knative/autoscale-go": Image(
        ("/ko-app/autoscale-go",),
        programs={"autoscale-go": ko_app("helloworld", "autoscale")},
        userland=False,
    ),
    "gcr.io/knative-releases/knative.dev/serving/cmd/queue": Image(
        ("/ko-app/queue",), programs={"queue": ko_app("queue_proxy")}, userland=False
    ),
    # Knative Serving's own components: lab_kit's agents in their images' places
    "gcr.io/knative-releases/knative.dev/serving/cmd/activator": Image(
        ("/ko-app/activator",), programs={"activator": agent("activator")}, userland=False
    ),
    "gcr.io/knative-releases/knative.dev/serving/cmd/autoscaler": Image(
        ("/ko-app/autoscaler",), programs={"autoscaler": agent("autoscaler")}, userland=False
    ),
    # lab_kit's own image (no such image upstream): Knative's ingress, as Kourier is
    "lab-kit/knative-gateway": Image(
        ("/knative-gateway",),
        programs={"knative-gateway": agent("knative-gateway")},
        userland=False,
    ),
    # Cluster DNS: lab_kit's own server (the agent `coredns`) stands in for CoreDNS.
    "registry.k8s.io/coredns/coredns": COREDNS,
    "coredns/coredns": COREDNS,
    # ingress-nginx's controller: lab_kit's controller (lab_kit/agents/ingress_nginx.py)
    # around this machine's nginx.
    "registry.k8s.io/ingress-nginx/controller": Image(
        ("/usr/bin/dumb-init", "--"),
        ("/nginx-ingress-controller",),
        {"dumb-init": run_ingress_nginx},
        userland=True,
    ),  # fmt: skip
}


def resolve(container: dict) -> Program | Unknown:
    image_name = container.get("image") or ""
    reference = parse_reference(image_name)
    if isinstance(reference, Unknown):
        return reference
    repository, tag, _digest = reference
    command, args = list(container.get("command") or []), list(container.get("args") or [])
    image = IMAGES.get(repository)
    if image is None:
        if command:
            return Program(command + args)
        return Unknown(
            ERR_IMAGE_PULL,
            f"lab_kit has no built-in workload for image {_q(image_name)}; give the container "
            "a command (it runs with this machine's tools) or use one of: "
            + ", ".join(name for name in IMAGES if not name.startswith("k8s.gcr.io/")),
        )
    argv = (command or list(image.entrypoint)) + (args or ([] if command else list(image.cmd)))
    if not argv:
        return Unknown(CREATE_CONTAINER_ERROR, "no command specified")
    runner = image.programs.get(argv[0].rsplit("/", 1)[-1])
    if runner is not None:
        return runner(Launch(argv, image_name, tag))
    if not image.userland:
        return Unknown(
            RUN_CONTAINER_ERROR,
            "failed to create containerd task: failed to create shim task: OCI runtime create "
            "failed: runc create failed: unable to start container process: "
            f"exec: {_q(argv[0])}: executable file not found in $PATH: unknown",
        )
    return Program(argv)


# ---------------------------------------------------------------------------------------------
# Image references (github.com/distribution/reference, as the kubelet parses them)

_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(rf"{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*(?::[0-9]+)?")
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")


def parse_reference(image: str) -> tuple[str, str | None, str | None] | Unknown:
    """(repository, tag, digest), the repository without docker.io/ and library/; or the
    InvalidImageName kubelet reports."""
    name, at, digest = image.partition("@")
    tag = None
    colon = name.rfind(":")
    if colon > name.rfind("/"):
        name, tag = name[:colon], name[colon + 1 :]
    slash = name.find("/")
    first = name[:slash]
    if slash == -1 or not ("." in first or ":" in first or first == "localhost"):
        domain, remainder = "docker.io", name
    else:
        domain, remainder = first, name[slash + 1 :]
    if domain == "index.docker.io":
        domain = "docker.io"
    if domain == "docker.io" and "/" not in remainder:
        remainder = f"library/{remainder}"

    def invalid(why: str) -> Unknown:
        return Unknown(
            INVALID_IMAGE_NAME,
            f"Failed to apply default image tag {_q(image)}: "
            f"couldn't parse image name {_q(image)}: {why}",
        )

    if remainder.lower() != remainder:
        return invalid(f"invalid reference format: repository name ({remainder}) must be lowercase")
    valid = (
        _DOMAIN.fullmatch(domain)
        and all(_PATH_COMPONENT.fullmatch(part) for part in remainder.split("/"))
        and (tag is None or _TAG.fullmatch(tag))
        and (not at or _DIGEST.fullmatch(digest))
    )
    if not valid:
        return invalid("invalid reference format")
    if len(f"{domain}/{remainder}") > 255:
        return invalid(
            "invalid reference format: repository name must not be more than 255 characters"
        )
    if domain == "docker.io":
        return remainder.removeprefix("library/"), tag, digest or None
    return f"{domain}/{remainder}", tag, digest or None


def _q(s: str) -> str:
    """Go's %q for plain strings."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
