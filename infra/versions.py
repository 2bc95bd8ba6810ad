"""Pinned versions of the servers `catalens infra` installs (bump here, nowhere else)."""

from __future__ import annotations

KAFKA = "3.9.2"  # org.apache.kafka:kafka_2.13 on Maven Central; KRaft, Java 17
SLF4J = "1.7.36"  # Kafka 3.9 logs through slf4j 1.7 ...
RELOAD4J = "1.2.25"  # ... to log4j 1.x API (reload4j), as the Kafka distribution does
MAVEN_DEPENDENCY_PLUGIN = "3.8.1"

# MinIO has no semver tags, and the Go module proxy here serves only exact versions: this is the
# pseudo-version of the last commit on github.com/minio/minio master (2026-02-12).
MINIO = "v0.0.0-20260212201848-7aac2a2c5b7c"
