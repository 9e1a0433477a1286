#!/usr/bin/env bash
# A developer's environment for the tests, in the active virtualenv: the tested set
# (requirements-test.lock, hashes checked), corpusmill itself (editable), Debian's chromium (the
# report's browser test) and Beam's Flink and Spark job servers (the engine tests). Each step is
# quick when its work is already done. CI builds its own environments instead (tests/ci.py).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "[setup] pip install -r requirements-test.lock (torch, transformers, megatron-core: about 3 GB the first time, cached after)"
pip install -q --root-user-action=ignore -r requirements-test.lock
pip install -q --root-user-action=ignore --no-deps -e .
echo "[setup] chromium for the HTML report's browser test"
bash tests/setup_system.sh
echo "[setup] Beam's Flink and Spark job servers (Maven, into ~/.apache_beam/cache/jars)"
bash jobs/fetch_runner_jars.sh
echo "[setup] done"
