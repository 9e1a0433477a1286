#!/usr/bin/env bash
# Writes the locks of the tested set from pyproject.toml's ranges, newest versions first (uv):
# requirements.lock (what `pip install` gives a user) and requirements-test.lock (with the test
# extra), each with every distribution's sha256. Commit them only after `python3 tests/ci.py` passed
# on them. Usage: tests/lock.sh [--upgrade | --upgrade-package NAME ...]  (default: keep what is pinned)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v uv >/dev/null || python3 -m pip install -q uv
for pair in "requirements.lock:" "requirements-test.lock:--extra=test"; do
  out=${pair%%:*} extra=${pair#*:}
  uv pip compile pyproject.toml ${extra:+"$extra"} --universal --python-version 3.11 --generate-hashes --no-header --quiet -o "$out" "$@"
  echo "wrote $out ($(grep -c '^[A-Za-z0-9].*==' "$out") packages)"
done
