#!/usr/bin/env bash
# Fetch Beam's Flink and Spark job servers with Maven into Beam's jar cache (~/.apache_beam/cache/jars),
# so FlinkRunner / SparkRunner runs never download anything themselves. Installs Java 17 and Maven
# with apt-get when they are missing (as root). Cached: a second run does nothing.
# Usage: jobs/fetch_runner_jars.sh [flink] [spark]
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v java >/dev/null || ! command -v mvn >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless maven >/dev/null
  else
    echo "fetch_runner_jars: Java 17 and Maven are needed (apt-get install openjdk-17-jre-headless maven)" >&2
    exit 1
  fi
fi
exec python -m pipeline.engine.runner_jars "$@"
