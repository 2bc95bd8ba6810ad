"""The real stack on one machine without Docker: Kafka (KRaft), MinIO, Postgres+pgvector, MLflow.

Installs are cached under `~/.cache/catalens/infra`, servers run from `~/.cache/catalens/run`
(see `InfraSettings`). The CLI is `catalens infra up|down|status|install` (or `python -m infra`).
"""

from infra.stack import SERVICES, Endpoints, down, endpoints, install, status, up

__all__ = ["SERVICES", "Endpoints", "down", "endpoints", "install", "status", "up"]
