#!/usr/bin/env bash
# Run the whole test suite: unit, contract, integration (real servers the tests start
# themselves on 127.0.0.1) and end-to-end browser tests.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$("$repo/scripts/env.sh")"
# the environment is shared by every clone on the machine (its editable install points at the
# last one that refreshed it): this clone's code comes first, whichever that was
export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
if [ ! -x /usr/bin/chromium ]; then
  echo "[test] installing Debian chromium for the browser tests" >&2
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) >&2 \
      || echo "[test] chromium could not be installed: browser tests will skip" >&2
  else
    echo "[test] not root: install chromium yourself to run the browser tests" >&2
  fi
fi
cd "$repo"
# the real servers the integration tests start: Kafka jars from Maven Central and MinIO built
# with `go install` (13 min cold on 2 cores), cached in ~/.cache/catalens/infra
"$venv/bin/catalens" infra install >&2
# the servers the tests start keep their data in a run folder of this run only: every run
# behaves like a new machine (no topics, buckets, tables or MLflow runs left from an earlier one)
if [ -z "${CATALENS_INFRA__RUN_DIR:-}" ]; then
  export CATALENS_INFRA__RUN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/catalens-test-run.XXXXXX")"
  trap 'rm -rf "$CATALENS_INFRA__RUN_DIR"' EXIT
  echo "[test] servers start on fresh state in $CATALENS_INFRA__RUN_DIR" >&2
fi
"$venv/bin/ruff" check schemas core services infra catalens bench tests
"$venv/bin/python" -m pytest "$@"
