"""docker-compose.yml describes the same stack as `catalens infra up` (Docker cannot run here,
so the file is checked by reading it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from catalens.cli.main import app as cli_app
from core.paths import REPO_ROOT

INFRA = {"kafka", "minio", "postgres", "mlflow"}
# `catalens run <service>` is written by another engineer; these are the services it will take.
RUN_SERVICES = {"detector", "captioner", "embedder", "indexer", "query"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def _cli_commands() -> set[tuple[str, ...]]:
    """Every command path the catalens CLI registers, e.g. ("infra", "wire")."""
    group = typer.main.get_command(cli_app)
    paths: set[tuple[str, ...]] = set()

    def walk(command: Any, prefix: tuple[str, ...]) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            paths.add((*prefix, name))
            walk(sub, (*prefix, name))

    walk(group, ())
    return paths


def test_the_stack_has_the_infrastructure_and_one_container_per_catalens_service(services):
    assert set(services) >= INFRA | RUN_SERVICES


def test_every_image_is_pinned_to_a_version(services):
    for name, service in services.items():
        image = service.get("image", "")
        assert ":" in image and not image.endswith(":latest"), f"{name}: {image!r}"


def test_catalens_services_are_built_from_the_repository_dockerfile(services):
    for name in RUN_SERVICES:
        build = services[name]["build"]
        assert (REPO_ROOT / build["context"] / build["dockerfile"]).is_file(), name


def test_each_catalens_service_runs_its_own_worker(services):
    for name in RUN_SERVICES:
        assert services[name]["command"] == ["catalens", "run", name]


def test_every_other_catalens_command_is_one_the_cli_has(services):
    known = _cli_commands()
    for name, service in services.items():
        command = service.get("command")
        if isinstance(command, list) and command[0] == "catalens" and command[1] != "run":
            assert tuple(command[1:]) in known, f"{name}: {command}"


def test_minio_sends_bucket_events_to_the_kafka_images_topic(services):
    env = services["minio"]["environment"]
    assert env["MINIO_NOTIFY_KAFKA_ENABLE_CATALENS"] == "on"
    assert env["MINIO_NOTIFY_KAFKA_TOPIC_CATALENS"] == "images"
    broker = env["MINIO_NOTIFY_KAFKA_BROKERS_CATALENS"]
    kafka_env = services["kafka"]["environment"]
    assert f"//{broker}" in kafka_env["KAFKA_ADVERTISED_LISTENERS"]
    assert services["minio"]["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_kafka_runs_in_kraft_mode_without_topic_auto_creation(services):
    env = services["kafka"]["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_catalens_services_reach_the_infrastructure_by_its_compose_names(services):
    env = services["detector"]["environment"]
    kafka_internal = services["minio"]["environment"]["MINIO_NOTIFY_KAFKA_BROKERS_CATALENS"]
    assert env["CATALENS_KAFKA__BOOTSTRAP_SERVERS"] == kafka_internal
    assert env["CATALENS_MINIO__ENDPOINT"] == "minio:9000"
    assert "@postgres:5432/" in env["CATALENS_POSTGRES__DSN"]
    assert env["CATALENS_MLFLOW__TRACKING_URI"] == "http://mlflow:5000"


def test_published_ports_match_the_local_defaults_and_bind_to_loopback(services):
    expected = {
        "kafka": "9092",
        "minio": "9000",
        "postgres": "5433",
        "mlflow": "5000",
        "query": "8000",
    }
    for name, port in expected.items():
        published = [p.split(":") for p in services[name]["ports"]]
        assert ["127.0.0.1", port] in [p[:2] for p in published], name


def test_every_long_running_service_has_a_healthcheck(services):
    for name in INFRA | RUN_SERVICES:
        assert services[name]["healthcheck"]["test"], name


def test_worker_healthchecks_probe_the_metrics_port_each_worker_serves(services):
    from core.streaming.metrics import DEFAULT_PORTS

    for name, port in DEFAULT_PORTS.items():
        assert f"http://localhost:{port}/metrics" in services[name]["healthcheck"]["test"], name


def test_workers_wait_for_healthy_infrastructure_and_wired_bucket_events(services):
    for name in RUN_SERVICES:
        needs = services[name]["depends_on"]
        for infra in ("kafka", "minio", "postgres"):
            assert needs[infra]["condition"] == "service_healthy", (name, infra)
        assert needs["wire-events"]["condition"] == "service_completed_successfully", name


def test_depends_on_names_only_services_that_exist_and_has_no_cycle(services):
    def deps(name: str) -> set[str]:
        return set(services[name].get("depends_on", {}))

    for name in services:
        assert deps(name) <= set(services), name

    def reaches_itself(start: str) -> bool:
        seen, todo = set(), list(deps(start))
        while todo:
            current = todo.pop()
            if current == start:
                return True
            if current not in seen:
                seen.add(current)
                todo.extend(deps(current))
        return False

    assert not [name for name in services if reaches_itself(name)]


def test_postgres_gets_the_vector_extension_on_first_start(services):
    mounts = services["postgres"]["volumes"]
    init = next(m for m in mounts if "docker-entrypoint-initdb.d" in m).split(":")[0]
    assert "CREATE EXTENSION IF NOT EXISTS vector" in (REPO_ROOT / Path(init)).read_text()


def test_the_image_copies_every_package_the_wheel_is_built_from():
    import tomllib

    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    packages = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    dockerfile = (REPO_ROOT / "infra/docker/Dockerfile").read_text()
    assert [p for p in packages if f"COPY {p} ./{p}" not in dockerfile] == []
