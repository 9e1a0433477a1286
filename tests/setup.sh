#!/usr/bin/env bash
# Everything the tests need, one line per step: the package with its test extra, Debian's
# chromium (the report's browser test), Beam's Flink and Spark job servers (the engine tests).
# Each step is skipped or quick when its work is already done.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "[setup] pip install -e '.[test]' (torch, transformers, megatron-core: about 3 GB the first time, cached after)"
pip install -q --root-user-action=ignore -e '.[test]'
echo "[setup] chromium for the HTML report's browser test"
bash tests/setup_system.sh
echo "[setup] Beam's Flink and Spark job servers (Maven, into ~/.apache_beam/cache/jars)"
bash jobs/fetch_runner_jars.sh
echo "[setup] done"
