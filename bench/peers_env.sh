#!/usr/bin/env bash
# The peer vector-search libraries for `python -m bench.query --peers`, in a venv of their own
# (~/.cache/catalens/bench-peers) so the project's environment (and CI's) never changes: the
# peers venv sees the project venv's packages through a .pth file and installs only
# bench/peers-requirements.txt, with every shared dependency pinned to the project venv's version.
# Prints the peers venv's path; run the bench with its python:
#   P=$(bench/peers_env.sh) && nice -n 10 "$P/bin/python" -m bench.query --peers ...
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${CATALENS_CACHE_DIR:-$HOME/.cache/catalens}"
export UV_CACHE_DIR="${UV_CACHE_DIR:-$cache/uv}"
export PATH="$HOME/.local/bin:$PATH"
project="$("$repo/scripts/env.sh")"
peers="$cache/bench-peers"
reqs="$repo/bench/peers-requirements.txt"
stamp="$(cat "$reqs" "$project/pyvenv.cfg" | sha256sum | cut -c1-16)"
if [ "$(cat "$peers/.complete" 2>/dev/null)" != "$stamp" ]; then
  echo "[peers] creating $peers" >&2
  rm -rf "$peers"
  uv venv --quiet --python "$project/bin/python" "$peers" >&2
  site() { "$1/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))'; }
  # the project venv's packages (torch, faiss, asyncpg, ...) after the peers' own
  echo "import site; site.addsitedir('$(site "$project")')" > "$(site "$peers")/zz_catalens_project.pth"
  constraints="$(mktemp)"
  uv pip freeze --python "$project/bin/python" | grep -v '^-e \| @ ' > "$constraints"
  uv pip install --quiet --python "$peers/bin/python" -r "$reqs" -c "$constraints" >&2
  rm -f "$constraints"
  echo "$stamp" > "$peers/.complete"
fi
echo "$peers"
