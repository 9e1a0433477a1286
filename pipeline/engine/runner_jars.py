"""Beam's Flink and Spark job servers, assembled with Maven into Beam's jar cache (no run-time download).

Beam's Python ``FlinkRunner`` / ``SparkRunner`` start a Java job server. Beam publishes it as one
shaded jar per engine, but a Maven mirror may carry only the modules (this project's machines
do): so ``fetch`` resolves the runner module and its dependencies with ``mvn
dependency:copy-dependencies`` and writes a small launcher jar whose manifest names the main
class and the dependency jars (plus the ``Add-Opens`` Spark needs on Java 17). Pass it as
``--flink_job_server_jar`` / ``--spark_job_server_jar``; ``pipeline.engine.runner`` does that itself.

For a standalone Flink cluster, ``flink_distribution`` unpacks Flink's own jars from PyPI.

    python -m pipeline.engine.runner_jars [flink|spark ...]     # what jobs/fetch_runner_jars.sh runs
"""
from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

BEAM_JAVA_VERSION = "2.62.0"  # the newest Beam whose runner modules resolve completely from Maven Central here


@dataclass(frozen=True)
class JobServer:
    engine: str
    main_class: str
    dependencies: tuple[tuple[str, str, str], ...]  # (group, artifact, version)
    add_opens: tuple[str, ...] = ()


LOGGING = ("org.slf4j", "slf4j-simple", "1.7.30")  # the job servers' errors reach stderr (warnings and up)
JOB_SERVERS = {
    "flink": JobServer("flink-1.19", "org.apache.beam.runners.flink.FlinkJobServerDriver",
                       (("org.apache.beam", "beam-runners-flink-1.19", BEAM_JAVA_VERSION), LOGGING)),
    "spark": JobServer("spark-3", "org.apache.beam.runners.spark.SparkJobServerDriver",
                       (("org.apache.beam", "beam-runners-spark-3", BEAM_JAVA_VERSION), LOGGING,
                        ("org.apache.spark", "spark-core_2.12", "3.5.0"),  # Beam declares Spark "provided"
                        ("org.apache.spark", "spark-streaming_2.12", "3.5.0")),
                       ("java.base/java.lang", "java.base/java.lang.invoke", "java.base/java.nio", "java.base/java.util",
                        "java.base/sun.nio.ch", "java.base/sun.util.calendar")),
}


def cache_dir() -> Path:
    """Beam's own jar cache (``~/.apache_beam/cache/jars``)."""
    return Path(os.path.expanduser("~/.apache_beam/cache/jars"))


def _name(engine: str) -> str:
    """Names the job server by its definition, so a changed dependency list is fetched anew."""
    server = JOB_SERVERS[engine]
    digest = hashlib.sha256(repr(server).encode()).hexdigest()[:8]
    return f"corpusmill-{server.engine}-job-server-{BEAM_JAVA_VERSION}-{digest}"


def launcher_path(engine: str) -> Path:
    return cache_dir() / f"{_name(engine)}.jar"


def job_server_jar(engine: str) -> str:
    """The launcher jar of ``engine``; a clear error when it has not been fetched."""
    path = launcher_path(engine)
    if not path.exists():
        raise FileNotFoundError(f"no {engine} job server in {cache_dir()}: run jobs/fetch_runner_jars.sh (Java and Maven), "
                                f"or pass --{engine}_job_server_jar")
    return str(path)


def _pom(server: JobServer) -> str:
    deps = "".join(f"<dependency><groupId>{g}</groupId><artifactId>{a}</artifactId><version>{v}</version></dependency>" for g, a, v in server.dependencies)
    return ('<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
            f"<groupId>corpusmill</groupId><artifactId>{server.engine}-job-server</artifactId><version>1</version>"
            f"<dependencies>{deps}</dependencies></project>")


def _manifest_line(name: str, value: str) -> str:
    """One manifest attribute, wrapped at 72 bytes with continuation lines as the JAR spec requires."""
    line = f"{name}: {value}".encode()
    chunks = [line[:72]] + [b" " + line[i : i + 71] for i in range(72, len(line), 71)]
    return "".join(c.decode() + "\r\n" for c in chunks)


def write_launcher(server: JobServer, lib: Path, path: Path) -> None:
    """A jar holding only a manifest: Main-Class, Class-Path of ``lib``'s jars, Add-Opens."""
    jars = sorted(p.name for p in lib.glob("*.jar"))
    manifest = _manifest_line("Manifest-Version", "1.0") + _manifest_line("Main-Class", server.main_class)
    manifest += _manifest_line("Class-Path", " ".join(f"{lib.name}/{j}" for j in jars))
    if server.add_opens:
        manifest += _manifest_line("Add-Opens", " ".join(server.add_opens))
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w") as jar:
        jar.writestr("META-INF/MANIFEST.MF", manifest + "\r\n")
        jar.writestr("simplelogger.properties", "org.slf4j.simpleLogger.defaultLogLevel=warn\n")
    tmp.replace(path)


def fetch(engine: str) -> Path:
    """Resolves ``engine``'s job server with Maven (skipped when already there); returns the launcher."""
    server, path = JOB_SERVERS[engine], launcher_path(engine)
    if path.exists():
        return path
    if not shutil.which("mvn") or not shutil.which("java"):
        raise RuntimeError("Java and Maven are needed to fetch the job servers (apt-get install openjdk-17-jre-headless maven)")
    lib = cache_dir() / f"{_name(engine)}-lib"
    with tempfile.TemporaryDirectory() as work:
        Path(work, "pom.xml").write_text(_pom(server))
        staging = Path(work, "lib")
        subprocess.run(["mvn", "-B", "-q", "dependency:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={staging}"],
                       cwd=work, check=True)
        lib.parent.mkdir(parents=True, exist_ok=True)
        if lib.exists():
            shutil.rmtree(lib)
        shutil.move(str(staging), lib)
    write_launcher(server, lib, path)
    return path


FLINK_VERSION = "1.19.0"  # the Flink of Beam's flink-1.19 runner


def flink_distribution() -> Path:
    """Flink's own jars (``lib/``, ``bin/bash-java-utils.jar``) for a standalone cluster, from PyPI's
    ``apache-flink-libraries`` sdist, unpacked once into Beam's jar cache."""
    home = cache_dir() / f"flink-{FLINK_VERSION}"
    if (home / "_DONE").exists():
        return home
    with tempfile.TemporaryDirectory() as download:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:", f"apache-flink-libraries=={FLINK_VERSION}",
                        "-d", download], check=True)
        (archive,) = Path(download).glob("apache-flink-libraries-*.tar.gz")
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                match = re.match(r"[^/]+/deps/(lib|bin)/([^/]+\.jar)$", member.name)
                if match:
                    member.name = f"{match.group(1)}/{match.group(2)}"
                    tar.extract(member, home)
    (home / "_DONE").write_text("")
    return home


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fetch Beam's Flink/Spark job servers with Maven into Beam's jar cache.")
    parser.add_argument("engines", nargs="*", help=f"any of {', '.join(sorted(JOB_SERVERS))} (default: all)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.engines) - set(JOB_SERVERS))
    if unknown:
        parser.error(f"unknown engine {', '.join(unknown)} (known: {', '.join(sorted(JOB_SERVERS))})")
    for engine in args.engines or sorted(JOB_SERVERS):
        print(f"{engine}: {fetch(engine)}", file=sys.stderr)
        if engine == "flink":
            print(f"flink distribution (standalone cluster): {flink_distribution()}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
