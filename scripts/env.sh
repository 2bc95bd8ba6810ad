#!/usr/bin/env bash
# Make sure the project's Python environment exists and is current, then print its path.
# The environment lives OUTSIDE the clone (~/.cache/catalens/venv-<hash of the dependency spec>)
# so a fresh clone, and CI, reuse the ~3 GB of torch/ultralytics wheels instead of
# reinstalling them. Only the editable link to this clone is refreshed on each call.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${CATALENS_CACHE_DIR:-$HOME/.cache/catalens}"
# the key covers what gets installed (dependencies, extras, Python bound), not tool settings
key="$(python3 - "$repo/pyproject.toml" <<'PY'
import hashlib, json, sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))["project"]
spec = [project.get(k) for k in ("requires-python", "dependencies", "optional-dependencies")]
print(hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16])
PY
)"
venv="$cache/venv-$key"
mkdir -p "$cache"
log() { echo "[env] $*" >&2; }

if ! command -v uv >/dev/null 2>&1; then
  log "installing uv (the package installer) with pip"
  export PATH="$HOME/.local/bin:$cache/uv-bootstrap/bin:$PATH"
  if ! python3 -m pip install --quiet --user uv >&2 2>/dev/null \
      && ! python3 -m pip install --quiet uv >&2 2>/dev/null; then
    # a Python that refuses pip installs (PEP 668 "externally managed"): uv goes in a venv of its own
    log "pip refused a user install; putting uv in $cache/uv-bootstrap"
    python3 -m venv "$cache/uv-bootstrap" >&2
    "$cache/uv-bootstrap/bin/pip" install --quiet uv >&2
  fi
fi
export UV_CACHE_DIR="${UV_CACHE_DIR:-$cache/uv}"

if [ ! -f "$venv/.complete" ]; then
  log "creating $venv (first run downloads torch & co., a few minutes)"
  rm -rf "$venv"
  uv venv --quiet --python 3.11 "$venv" >&2 || uv venv --quiet "$venv" >&2
  # install dependencies only; the project itself is linked below
  VIRTUAL_ENV="$venv" uv pip install --quiet -r "$repo/pyproject.toml" --all-extras >&2
  touch "$venv/.complete"
fi
# point the environment at THIS clone (cheap; a reused venv may have linked another one)
VIRTUAL_ENV="$venv" uv pip install --quiet --no-deps -e "$repo" >&2
echo "$venv"
