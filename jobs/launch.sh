#!/usr/bin/env bash
# Launch recipes: the same corpusmill jobs on the local runner, Flink, Spark or Dataflow.
# Usage: jobs/launch.sh local|flink-local|spark-local|flink|spark|dataflow CONFIG [extra Beam options...]
# Flink and Spark need Beam's job server: jobs/fetch_runner_jars.sh puts it in Beam's jar cache.
# Every worker needs the corpusmill package: a wheel built here is staged with --extra_package
# (Dataflow) or installed where the workers' Python runs (Flink, Spark: worker pool or image).
set -euo pipefail
target=${1:?usage: jobs/launch.sh local|flink-local|spark-local|flink|spark|dataflow CONFIG [beam options...]}
config=${2:?config file}
shift 2
cd "$(dirname "$0")/.."

wheel() {
  python -m pip wheel --no-deps -q -w dist . >&2
  ls -t dist/corpusmill-*.whl | head -n 1
}

case "$target" in
  local)
    # In-process runner, both cores for the heavy stages; no network needed.
    exec corpusmill run "$config" --runner=FnApiRunner --direct_running_mode=multi_processing --direct_num_workers="${WORKERS:-2}" "$@"
    ;;
  flink-local)
    # Flink's embedded cluster in the job server's JVM; the Python workers run in this process (LOOPBACK).
    exec corpusmill run "$config" --runner=FlinkRunner --flink_master="[local]" --environment_type=LOOPBACK \
      --parallelism="${WORKERS:-2}" "$@"
    ;;
  spark-local)
    # Spark in local mode inside the job server's JVM; the Python workers run in this process (LOOPBACK).
    exec corpusmill run "$config" --runner=SparkRunner --spark_master_url="local[${WORKERS:-2}]" --environment_type=LOOPBACK "$@"
    ;;
  flink)
    # FLINK_MASTER=host:8081. Default EXTERNAL environment: beside every task manager, in a Python
    # where the corpusmill wheel is installed, run
    #   python -m apache_beam.runners.worker.worker_pool_main --service_port=50000
    # Or ENVIRONMENT_TYPE=DOCKER ENVIRONMENT_CONFIG=<an SDK image with corpusmill installed>.
    exec corpusmill run "$config" --runner=FlinkRunner --flink_master="${FLINK_MASTER:?set FLINK_MASTER}" \
      --environment_type="${ENVIRONMENT_TYPE:-EXTERNAL}" --environment_config="${ENVIRONMENT_CONFIG:-localhost:50000}" \
      --parallelism="${PARALLELISM:-16}" "$@"
    ;;
  spark)
    # SPARK_MASTER=spark://host:7077; the same worker environment rules as Flink (worker pool on
    # every executor host, or an SDK image).
    exec corpusmill run "$config" --runner=SparkRunner --spark_master_url="${SPARK_MASTER:?set SPARK_MASTER}" \
      --environment_type="${ENVIRONMENT_TYPE:-EXTERNAL}" --environment_config="${ENVIRONMENT_CONFIG:-localhost:50000}" "$@"
    ;;
  dataflow)
    # PROJECT, REGION, BUCKET; output_dir and sources in the config should be gs:// paths.
    # pip install 'corpusmill[gcp]' first.
    exec corpusmill run "$config" --runner=DataflowRunner --project="${PROJECT:?set PROJECT}" --region="${REGION:?set REGION}" \
      --temp_location="gs://${BUCKET:?set BUCKET}/tmp" --staging_location="gs://${BUCKET}/staging" \
      --extra_package="$(wheel)" --machine_type="${MACHINE_TYPE:-n2-highmem-8}" \
      --max_num_workers="${MAX_WORKERS:-100}" --experiments=use_runner_v2 "$@"
    ;;
  *)
    echo "unknown target $target (local|flink-local|spark-local|flink|spark|dataflow)" >&2
    exit 2
    ;;
esac
