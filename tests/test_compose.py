"""docker-compose.yml and the Dockerfile, checked as files (no compose engine runs here)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
TOPICS = ("icc.incidents", "icc.sightings", "icc.teams", "icc.deadletter")
SECRET_KEY = re.compile(r"PASSWORD|SECRET|TOKEN|_AUTH$|CREDENTIAL", re.IGNORECASE)
REF = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[?-])?(?P<arg>[^}]*)\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # KEY=VALUE form
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def test_services_and_images(services: dict[str, dict[str, Any]]) -> None:
    assert {"kafka", "kafka-init", "neo4j", "worker", "dashboard"} <= set(services)
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["kafka-init"]["image"] == services["kafka"]["image"]
    assert re.fullmatch(r"neo4j:5(\.[\w.-]+)?", services["neo4j"]["image"])
    assert services["worker"]["build"] == "."
    assert services["dashboard"]["image"] == services["worker"]["image"]
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8").lower()
    assert "zookeeper" not in text


def test_kafka_runs_in_kraft_mode_and_topics_are_created(
    services: dict[str, dict[str, Any]],
) -> None:
    env = _env(services["kafka"])
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(f"{env['KAFKA_NODE_ID']}@kafka:")
    assert "CONTROLLER" in env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert env["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://kafka:9092"
    init = services["kafka-init"]
    assert init["depends_on"]["kafka"]["condition"] == "service_healthy"
    script = " ".join(init["command"]) if isinstance(init["command"], list) else init["command"]
    assert "--create" in script and "--if-not-exists" in script
    for topic in TOPICS:
        assert topic in script


def test_worker_is_the_kafka_consumer_and_scales(services: dict[str, dict[str, Any]]) -> None:
    worker = services["worker"]
    cmd = worker["command"]
    assert cmd[:3] == ["run", "--source", "kafka://kafka:9092"]
    # --scale worker=N needs replicas that can coexist: no fixed name, no host ports
    assert "container_name" not in worker and "ports" not in worker
    deps = worker["depends_on"]
    assert deps["kafka-init"]["condition"] == "service_completed_successfully"
    assert deps["neo4j"]["condition"] == "service_healthy"
    env = _env(worker)
    assert env["ICC_GRAPH_BACKEND"] == "neo4j" and env["NEO4J_URI"] == "bolt://neo4j:7687"
    assert env["ICC_LOG_FORMAT"] == "json"
    assert _env(services["dashboard"])["ICC_GRAPH_BACKEND"] == "networkx"
    assert services["dashboard"]["ports"] and "8050" in str(services["dashboard"]["ports"][0])


@pytest.mark.parametrize("name", ["kafka", "neo4j", "worker", "dashboard"])
def test_long_running_services_have_health_checks(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    check = services[name]["healthcheck"]
    test = check["test"]
    assert isinstance(test, list) and test[0] in ("CMD", "CMD-SHELL") and len(test) >= 2
    assert check.get("interval") and check.get("retries")


def test_state_lives_in_named_volumes(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    declared = set(compose["volumes"])
    mounts: dict[str, set[str]] = {}
    for name, service in services.items():
        for vol in service.get("volumes", []):
            source, target = str(vol).split(":")[:2]
            assert not source.startswith(("/", ".", "~")), f"{name}: bind mount {vol}"
            assert source in declared, f"{name}: volume {source} is not declared"
            mounts.setdefault(name, set()).add(target)
    assert "/var/lib/kafka/data" in mounts["kafka"]
    assert _env(services["kafka"])["KAFKA_LOG_DIRS"] == "/var/lib/kafka/data"
    assert "/data" in mounts["neo4j"]
    assert "/data" in mounts["worker"] and "/data" in mounts["dashboard"]
    assert _env(services["worker"])["ICC_DATA_DIR"] == "/data"


def _secret_values(services: dict[str, dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [
        (name, key, value)
        for name, service in services.items()
        for key, value in _env(service).items()
        if SECRET_KEY.search(key)
    ]


def _secret_problems(services: dict[str, dict[str, Any]]) -> list[str]:
    """Every secret-looking environment value that is not taken from the environment."""
    problems = []
    for name, key, value in _secret_values(services):
        where = f"{name}.{key}"
        refs = list(REF.finditer(value))
        literal = REF.sub("", value)
        if key.endswith("_AUTH"):
            # NEO4J_AUTH is USER/PASSWORD: the user may be literal, the password may not
            user, _, password = value.partition("/")
            if not (password and REF.fullmatch(password)):
                problems.append(f"{where}: literal password")
            literal = REF.sub("", user)
        if not refs:
            problems.append(f"{where}: literal value; expected ${{VARIABLE}}")
        elif literal not in ("", "neo4j"):
            problems.append(f"{where}: literal text {literal!r}")
        for ref in refs:
            if "PASSWORD" in ref["name"] and ref["op"] not in ("?", ":?"):
                # required, never defaulted: compose refuses to start without it
                problems.append(f"{where}: {ref[0]} must be ${{X:?message}}")
            elif SECRET_KEY.search(ref["name"]) and ref["op"] in ("-", ":-") and ref["arg"]:
                problems.append(f"{where}: default {ref['arg']!r} for a secret")
    return problems


def test_every_secret_comes_from_the_environment(services: dict[str, dict[str, Any]]) -> None:
    secrets = {(n, k) for n, k, _ in _secret_values(services)}
    assert secrets >= {("neo4j", "NEO4J_AUTH"), ("worker", "NEO4J_PASSWORD")}
    assert _secret_problems(services) == []


@pytest.mark.parametrize(
    "env",
    [
        {"NEO4J_PASSWORD": "changeme"},
        {"NEO4J_PASSWORD": "${NEO4J_PASSWORD:-changeme}"},
        {"NEO4J_PASSWORD": "${NEO4J_PASSWORD}"},
        {"NEO4J_AUTH": "neo4j/changeme"},
        {"ICC_API_TOKENS": "${ICC_API_TOKENS:-abcdefghijklmnop:auditor:x}"},
    ],
)
def test_the_secret_check_catches_literals_and_defaults(env: dict[str, str]) -> None:
    assert _secret_problems({"svc": {"environment": env}})


def test_dockerfile_builds_the_icc_console_script() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.1[1-9]", text, re.MULTILINE)
    assert 'ENTRYPOINT ["icc"]' in text
    assert re.search(r"^USER (?!root)\S+", text, re.MULTILINE), "run as a non-root user"
    assert not re.search(r"PASSWORD\s*=|TOKEN\S*\s*=", text), "no secret baked into the image"
    for package in ("ingest", "geo", "graph", "tasking", "dashboard", "icc"):
        assert re.search(rf"^COPY {package} {package}$", text, re.MULTILINE)


@pytest.mark.parametrize("name", ["worker", "dashboard"])
def test_service_commands_are_real_icc_subcommands(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    """The image's entry point is ``icc``: each command must parse as an ``icc`` subcommand."""
    from icc.cli import _parser

    assert 'ENTRYPOINT ["icc"]' in (ROOT / "Dockerfile").read_text(encoding="utf-8")
    command = services[name]["command"]
    args = _parser().parse_args(command)  # SystemExit(2) on an unknown subcommand or option
    assert args.command == command[0]
    if name == "dashboard":
        assert (args.host, args.port) == ("0.0.0.0", 8050)
        env = _env(services[name])
        assert env["ICC_USERS_FILE"], "icc dashboard refuses to start without ICC_USERS_FILE"
