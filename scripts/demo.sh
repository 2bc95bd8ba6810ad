#!/usr/bin/env bash
# Ingest a sample catalog into the embedded stack (no servers) and serve search + UI.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$("$repo/scripts/env.sh")"
# the environment is shared by every clone on the machine (its editable install points at the
# last one that refreshed it): this clone's code comes first, whichever that was
export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
exec "$venv/bin/catalens" demo "$@"
