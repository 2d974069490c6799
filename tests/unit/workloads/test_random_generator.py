"""random-generator, started as the kubelet starts it, on 127.0.0.1."""

from __future__ import annotations

import json
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from workload_procs import free_port, get, wait_until

from lab_kit.workloads.random_generator import JavaRandom, java_hashmap_order

IMAGE = "k8spatterns/random-generator:2.0"
ON_KUBERNETES = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}


@pytest.fixture
def start(spawn, tmp_path):
    """start(env=..., args=...) -> (proc, port, ready file); returns once the port answers."""

    def run(env: dict | None = None, args: list[str] | None = None, wait=True, stale=False):
        port = free_port()
        ready = tmp_path / f"ready-{port}"
        if stale:  # left over from an earlier container (the pod's /opt outlives it)
            ready.touch()
        container = {"image": IMAGE, "args": args or []}
        proc = spawn(container, {"SERVER_PORT": str(port), "READY_FILE": str(ready), **(env or {})})
        if wait:
            proc.wait_port(port)
        return proc, port, ready

    return run


def get_json(port: int, path: str, **kw):
    status, headers, body, _ = get(port, path, **kw)
    return status, headers, json.loads(body)


def test_random_number_and_instance_id(start):
    proc, port, _ = start()
    status, headers, first = get_json(port, "/")
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert list(first) == ["random", "id"]  # the real app's HashMap order
    assert -(2**31) <= first["random"] < 2**31
    assert uuid.UUID(first["id"])
    _, _, second = get_json(port, "/")
    assert second["id"] == first["id"]
    other, other_port, _ = start()
    assert get_json(other_port, "/")[2]["id"] != first["id"]


def test_seed_gives_java_util_random_numbers(start):
    _, port, _ = start({"SEED": "42"})
    assert get_json(port, "/")[2]["random"] == -1170105035  # new java.util.Random(42).nextInt()


def test_java_random_and_hashmap_order():
    assert JavaRandom(42).next_int() == -1170105035
    assert JavaRandom(0).next_int() == -1155484576
    assert list(java_hashmap_order({"id": 1, "random": 2})) == ["random", "id"]


def test_ready_file_is_created_when_started_and_toggled(start):
    _, port, ready = start()
    wait_until(ready.exists, "the ready file")
    assert get(port, "/toggle-ready")[:1] == (200,)
    assert not ready.exists()
    get(port, "/toggle-ready")
    assert ready.exists()


def test_startup_removes_a_stale_ready_file_and_waits_delay_startup(start):
    began = time.monotonic()
    proc, port, ready = start({"DELAY_STARTUP": "1"}, wait=False, stale=True)
    wait_until(lambda: not ready.exists(), "the stale ready file to go", proc=proc)
    proc.wait_port(port)
    assert time.monotonic() - began >= 1.0
    wait_until(ready.exists, "the ready file", proc=proc)


def test_toggle_live_flips_actuator_health(start):
    _, port, _ = start()
    status, headers, body = get_json(port, "/actuator/health")
    assert (status, body) == (200, {"status": "UP"})
    assert headers["Content-Type"] == "application/vnd.spring-boot.actuator.v3+json"
    assert get(port, "/toggle-live")[:1] == (200,)
    assert get_json(port, "/actuator/health")[::2] == (503, {"status": "DOWN"})
    get(port, "/toggle-live")
    assert get_json(port, "/actuator/health")[::2] == (200, {"status": "UP"})


def test_health_groups_on_kubernetes(start):
    _, port, _ = start(ON_KUBERNETES)
    assert get_json(port, "/actuator/health")[2] == {
        "status": "UP",
        "groups": ["liveness", "readiness"],
    }
    get(port, "/toggle-live")
    assert get_json(port, "/actuator/health/liveness")[::2] == (200, {"status": "UP"})
    assert get_json(port, "/actuator/health/readiness")[::2] == (200, {"status": "UP"})
    _, off_port, _ = start()
    assert get(off_port, "/actuator/health/liveness")[0] == 404


def test_info(start):
    env = {"PATTERN": "Service Discovery", "POD_IP": "10.244.1.5", "LOG_FILE": "/dev/null"}
    _, port, _ = start(env)
    _, _, info = get_json(port, "/info")
    _, _, number = get_json(port, "/")
    assert info["version"] == "2.0"
    assert info["id"] == number["id"]
    assert info["pattern"] == "Service Discovery"
    assert info["POD_IP"] == "10.244.1.5"
    assert info["logFile"] == "/dev/null"
    assert info["env"]["HOSTNAME"] == "test-pod"
    assert info["cpu.procs"] >= 1
    assert info["memory.max"] > info["memory.used"] > 0
    assert "NODE_NAME" not in info and "seed" not in info


def test_spring_style_arguments_win_over_the_environment(start):
    port = free_port()
    args = [f"--server.port={port}", "--pattern=args"]
    proc, _, _ = start({"VERSION": "3.0"}, args=args, wait=False)
    proc.wait_port(port)
    _, _, info = get_json(port, "/info")
    assert (info["version"], info["pattern"]) == ("3.0", "args")


def test_errors_look_like_spring_boot(start):
    _, port, _ = start()
    status, _, body = get_json(port, "/no-such-page")
    assert status == 404
    assert set(body) == {"timestamp", "status", "error", "path"}
    assert (body["status"], body["error"], body["path"]) == (404, "Not Found", "/no-such-page")
    assert get_json(port, "/memory-eater")[::2][0] == 400
    assert get(port, "/memory-eater?mb=1")[0] == 200


def test_log_file_and_logs_endpoint(start, tmp_path):
    log_file = tmp_path / "random.log"
    _, port, _ = start({"LOG_FILE": str(log_file)})
    numbers = [get_json(port, "/")[2] for _ in range(2)]
    _, headers, logs, _ = get(port, "/logs")
    lines = logs.split("\n")
    assert headers["Content-Type"].startswith("text/plain")
    assert [line.split(",")[1:4:2] for line in lines] == [
        [n["id"], str(n["random"])] for n in numbers
    ]


def test_one_log_line_per_request(start):
    proc, port, _ = start()
    _, _, _, client = get(port, "/info?x=1")
    proc.wait_logged(f"GET /info?x=1 -> 200 ({client})", "stdout")


def test_many_concurrent_requests(start):
    _, port, _ = start()
    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(lambda _: get_json(port, "/"), range(200)))
    assert {status for status, _, _ in results} == {200}
    assert len({body["id"] for _, _, body in results}) == 1


def test_sigterm_runs_the_shutdown_hook_and_exits_like_a_jvm(start):
    proc, _, _ = start()
    proc.signal(signal.SIGTERM)
    assert proc.exit_code(timeout=2) == 143  # 128 + SIGTERM, as a JVM
    assert ">>>> SHUTDOWN HOOK called" in proc.stdout.read_text()


def test_sigterm_during_startup_delay(start):
    proc, _, _ = start({"DELAY_STARTUP": "30"}, wait=False)
    proc.wait_logged("No WAIT_FOR_POST_START configured", "stdout")
    proc.signal(signal.SIGTERM)
    assert proc.exit_code(timeout=2) == 143


def test_shutdown_endpoint_exits_0(start):
    proc, port, _ = start()
    assert get(port, "/shutdown")[0] == 200
    assert proc.exit_code() == 0
    assert "SHUTDOWN NOW" in proc.stdout.read_text()


def test_wait_for_post_start(start, tmp_path):
    done = tmp_path / "postStart-done"
    done.write_text("hello from postStart")
    env = {"WAIT_FOR_POST_START": "true", "POST_START_FILE": str(done)}
    proc, _, _ = start(env)
    assert "postStart Message: hello from postStart" in proc.stdout.read_text()


def test_bad_delay_fails_like_integer_parse_int(start):
    proc, _, _ = start({"DELAY_STARTUP": "soon"}, wait=False)
    assert proc.exit_code() == 1
    assert 'NumberFormatException: For input string: "soon"' in proc.stderr.read_text()


def test_port_in_use_fails_to_start(start):
    _, port, _ = start()
    proc, _, _ = start(args=[f"--server.port={port}"], wait=False)
    assert proc.exit_code() == 1
    assert f"Port {port} was already in use" in proc.stdout.read_text()
