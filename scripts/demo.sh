#!/usr/bin/env bash
# Ingest a sample catalog into the embedded stack (no servers) and serve search + UI.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$("$repo/scripts/env.sh")"
exec "$venv/bin/catalens" demo "$@"
