import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.config import ConfigError, config_from_dict, load_config

SOURCE = {"name": "web", "paths": ["data/*.jsonl"]}


def test_defaults_fill_a_short_config():
    config = config_from_dict({"sources": [SOURCE]})
    assert config.pack.seq_len == 4096
    assert config.tokenizer.vocab_size == 128000
    assert config.sources[0].format == "jsonl"
    assert config.dedup.exact is True


@pytest.mark.parametrize(
    "data, message",
    [
        ({"sources": [SOURCE], "pakc": {}}, "pakc: unknown key"),
        ({"sources": [SOURCE], "pack": {"seq_lenn": 4}}, "pack.seq_lenn: unknown key"),
        ({"sources": [SOURCE, {"name": "b", "paths": ["x"], "format": "csv"}]}, "sources[1].format: expected one of jsonl, parquet, arrow, hf, text"),
        ({"sources": [SOURCE], "pack": {"seq_len": "long"}}, "pack.seq_len: expected an integer"),
        ({"sources": [{"name": "a", "paths": "x.jsonl"}]}, "sources[0].paths: expected a list"),
        ({"sources": [{"paths": ["x"]}]}, "sources[0].name: required key is missing"),
        ({"sources": [SOURCE, SOURCE]}, "sources[1].name: duplicate source name"),
        ({"sources": [SOURCE], "dedup": {"exact": "yes"}}, "dedup.exact: expected true or false"),
        ({"sources": [SOURCE], "pack": {"seq_len": 0}}, "pack.seq_len: must be positive"),
        ({"sources": []}, "sources: at least one source"),
        ({"sources": [{"name": "r", "paths": ["repos/*"], "format": "repos"}]}, "sources[0].kind: a repository source is code"),
        ({"sources": [{**SOURCE, "kind": "code", "repo_field": "repo"}]}, "sources[0].repo_field: give repo_field and path_field together"),
        ({"sources": [{**SOURCE, "format": "text", "kind": "code", "repo_field": "r", "path_field": "p"}]}, "rows are grouped into repositories for jsonl and parquet"),
    ],
)
def test_bad_configs_name_the_key_path(data, message):
    with pytest.raises(ConfigError) as err:
        config_from_dict(data)
    assert message in str(err.value)


@pytest.mark.parametrize("name", ["demo.yaml", "selection.yaml", "repos.yaml"])
def test_shipped_configs_are_valid(name):
    config = load_config(str(Path(__file__).resolve().parents[1] / "configs" / name))
    assert config.sources


def test_placeholders_expand(tmp_path):
    config = config_from_dict({"output_dir": str(tmp_path), "sources": [{"name": "a", "paths": ["{stdlib}/json/*.py", "{output_dir}/x.jsonl"]}]})
    assert config.sources[0].paths[0].endswith("/json/*.py") and "{" not in config.sources[0].paths[0]
    assert config.sources[0].paths[1] == f"{tmp_path}/x.jsonl"


def test_config_hash_ignores_beam_options():
    a = config_from_dict({"sources": [SOURCE], "beam": {"direct_num_workers": 1}})
    b = config_from_dict({"sources": [SOURCE], "beam": {"direct_num_workers": 2}})
    c = config_from_dict({"sources": [SOURCE], "seed": 99})
    assert a.config_hash() == b.config_hash() != c.config_hash()


def test_load_config_reports_file_and_yaml_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("sources: [\n")
    with pytest.raises(ConfigError, match="bad.yaml: invalid YAML"):
        load_config(str(bad))
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(str(tmp_path / "missing.yaml"))


def test_cli_rejects_misspelled_key_before_importing_beam(tmp_path):
    config = tmp_path / "typo.yaml"
    config.write_text("sources:\n  - name: web\n    paths: [x.jsonl]\n    text_feild: body\n")
    probe = (
        "import sys\nfrom pipeline.cli import main\ncode = main(['run', sys.argv[1]])\n"
        "print('beam imported' if 'apache_beam' in sys.modules else 'beam not imported')\nsys.exit(code)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe, str(config)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "sources[0].text_feild: unknown key" in result.stderr
    assert "beam not imported" in result.stdout


def test_cli_rejects_unknown_flags_naming_the_closest_and_passes_beam_options_on(tmp_path, capsys):
    from pipeline.cli import main

    config = tmp_path / "c.yaml"
    config.write_text(f"sources:\n  - name: web\n    paths: ['{tmp_path}/missing-*.jsonl']\n")
    assert main(["validate", str(config), "--forse"]) == 2
    assert "unknown option --forse (did you mean --force?)" in capsys.readouterr().err
    assert main(["validate", str(config), "--flink_mastr=[local]"]) == 2
    assert "did you mean --flink_master?" in capsys.readouterr().err
    assert main(["validate", str(config), "--flink_master=[local]", "--runner=FlinkRunner"]) == 1  # accepted; then no input file matches
    assert "no file matches" in capsys.readouterr().err
    assert main(["validate", str(config), "--no_pipeline_type_check"]) == 1  # Beam's negated flags are Beam flags too
    assert "no file matches" in capsys.readouterr().err
    assert main(["curate", str(config), "--forse"]) == 2  # a job's flags are checked once its zygote (if any) is forked
    assert "unknown option --forse (did you mean --force?)" in capsys.readouterr().err


def test_the_readme_config_reference_validates():
    """The README's annotated config (every key with its default) is a valid config as written."""
    import re

    import yaml

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Config reference"):]
    block = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    config = config_from_dict(yaml.safe_load(block))
    assert config.max_compression_ratio == 100 and config.on_duplicate_id == "drop" and config.sources[0].name == "web"


def test_the_old_unit_size_key_is_accepted_with_a_deprecation_message():
    import pytest

    from pipeline.config import ConfigError, config_from_dict

    source = [{"name": "a", "paths": ["x"]}]
    with pytest.warns(FutureWarning, match="output.shard_mb is deprecated: it is now output.unit_mb"):
        assert config_from_dict({"sources": source, "output": {"shard_mb": 8}}).output.unit_mb == 8
    with pytest.raises(ConfigError, match="output.shard_mb: renamed output.unit_mb; give only output.unit_mb"):
        config_from_dict({"sources": source, "output": {"shard_mb": 8, "unit_mb": 8}})


@pytest.mark.slow
def test_the_command_ends_with_main_s_code_its_output_and_exit_handlers(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(f"sources:\n  - name: web\n    paths: ['{tmp_path}/missing-*.jsonl']\n")
    probe = (
        "import atexit, sys\nfrom pipeline.cli import run\n"
        "atexit.register(lambda: print('exit handler ran'))\nprint('buffered line')\nsys.argv = ['corpusmill', *sys.argv[1:]]\nrun()\n"
    )
    for flags, code in ((["--forse"], 2), (["--flink_master=[local]", "--runner=FlinkRunner"], 1)):
        result = subprocess.run([sys.executable, "-c", probe, "validate", str(config), *flags], capture_output=True, text=True, timeout=60)
        assert result.returncode == code, result.stderr
        assert result.stdout.splitlines() == ["buffered line", "exit handler ran"]
    result = subprocess.run([sys.executable, "-m", "pipeline", "validate", str(config), "--forse"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "did you mean --force?" in result.stderr
