"""``report/index.html``: the run report people read, self-contained (inline SVG, no server, no JS).

``report_data`` turns ``report.json`` and the sample files into what the page shows (rows and
charts); ``templates/report.html.j2`` lays it out (Jinja2, autoescaped). Sections: totals and
timing, reconciliation, per-source funnel, drop reasons with sampled documents, repositories,
target vs achieved mixture, languages, classifier scores, length histograms, near-duplicate
clusters and packing.
"""
from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from html import escape
from typing import Any

import jinja2
from markupsafe import Markup

from pipeline.records import Stage

COLORS = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f")
STAGE_ORDER = Stage.FUNNEL  # other stages follow


def hbars(rows: Sequence[tuple[str, float]], unit: str = "", width: int = 520, color: str = COLORS[0]) -> Markup:
    """A horizontal bar chart as inline SVG."""
    top = max((v for _, v in rows), default=0) or 1
    bar_h, label_w = 20, 170
    height = bar_h * len(rows) + 4
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + width + 110}" height="{height}" role="img">']
    for i, (label, value) in enumerate(rows):
        y = i * bar_h + 2
        w = max(1.0, width * value / top) if value else 0
        parts.append(f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end" font-size="12">{escape(label)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 2}" width="{w:.1f}" height="{bar_h - 6}" fill="{color}"><title>{escape(label)}: {value:,.0f}{unit}</title></rect>')
        parts.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 14}" font-size="12">{value:,.0f}{escape(unit)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def grouped_bars(groups: Sequence[str], series: dict[str, Sequence[float]], percent: bool = True, width: int = 520) -> Markup:
    """Vertical grouped bars (e.g. target vs achieved share per source) as inline SVG."""
    top = max((v for values in series.values() for v in values), default=0) or 1
    height, base, slot = 200, 170, width / max(len(groups), 1)
    bar_w = slot * 0.8 / max(len(series), 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width + 20}" height="{height + 20}" role="img">']
    for gi, group in enumerate(groups):
        for si, (name, values) in enumerate(series.items()):
            value = values[gi]
            h = 150 * value / top
            x = 10 + gi * slot + slot * 0.1 + si * bar_w
            label = f"{value:.1%}" if percent else f"{value:,.0f}"
            parts.append(f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{bar_w - 2:.1f}" height="{h:.1f}" fill="{COLORS[si % len(COLORS)]}">'
                         f'<title>{escape(name)} {escape(group)}: {label}</title></rect>')
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{base - h - 3:.1f}" font-size="10" text-anchor="middle">{label}</text>')
        parts.append(f'<text x="{10 + gi * slot + slot / 2:.1f}" y="{base + 16}" font-size="12" text-anchor="middle">{escape(group)}</text>')
    for si, name in enumerate(series):
        parts.append(f'<rect x="{10 + si * 130}" y="{base + 26}" width="10" height="10" fill="{COLORS[si % len(COLORS)]}"/>'
                     f'<text x="{24 + si * 130}" y="{base + 35}" font-size="12">{escape(name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def funnel(entry: dict[str, Any]) -> list[tuple[str, float]]:
    """Documents remaining after dead letters and after each stage that dropped any, in pipeline order."""
    by_stage: dict[str, int] = {}
    for key, n in entry["dropped"].items():
        stage = key.split("/", 1)[0]
        by_stage[stage] = by_stage.get(stage, 0) + n
    stages = [s for s in STAGE_ORDER if s in by_stage] + sorted(set(by_stage) - set(STAGE_ORDER))
    remaining = entry["read"] - entry["dead_lettered"]
    rows = [("read", float(entry["read"])), ("after dead letters", float(remaining))]
    for stage in stages:
        remaining -= by_stage[stage]
        rows.append((f"after {stage.replace('_', ' ')}", float(remaining)))
    return rows


def anchor(stage: str, reason: str) -> str:
    return f"samples-{stage}-{reason}".replace("/", "-")


def _top(counts: dict[str, int], n: int) -> str:
    return ", ".join(f"{k}: {v:,}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])[:n])


def language_rows(sources: dict[str, Any]) -> list[list[str]]:
    """Per source and language: kept, dropped, the share kept and the rules that dropped most, so a
    language being starved shows (languages with most documents first)."""
    rows = []
    for name, e in sources.items():
        by_language = e.get("dropped_by_language", {})
        kept = e.get("languages", {})
        for lang in sorted(set(kept) | set(by_language), key=lambda k: -(kept.get(k, 0) + sum(by_language.get(k, {}).values()))):
            dropped = sum(by_language.get(lang, {}).values())
            total = kept.get(lang, 0) + dropped
            rows.append([name, lang, f"{kept.get(lang, 0):,}", f"{dropped:,}", f"{kept.get(lang, 0) / total:.1%}", _top(by_language.get(lang, {}), 3) or "none"])
    return rows


def report_data(report: dict[str, Any], drop_samples: list[dict[str, Any]] | None = None, clusters: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """What the page shows, computed: table rows as strings and charts as SVG markup."""
    curate, build, train = report.get("curate", {}), report.get("build", {}), report.get("train_tokenizer", {})
    sources = curate.get("sources", {})
    sampled = {(s["stage"], s["reason"]) for s in drop_samples or []}
    timing = [(job, report[job].get("seconds", 0)) for job in ("curate", "train_tokenizer", "build") if job in report]
    data: dict[str, Any] = {
        "run": {"totals": [f"{sum(e['read'] for e in sources.values()):,}", f"{sum(e['kept'] for e in sources.values()):,}", f"{build.get('tokens', 0):,}",
                           f"{build.get('rows', 0):,}", curate.get("config_hash", "")[:16]],
                "timing": hbars(timing, " s", color=COLORS[4])},
        "reconciliation": [{"source": name, "read": f"{e['read']:,}", "kept": f"{e['kept']:,}", "dropped": f"{sum(e['dropped'].values()):,}",
                            "dead": f"{e['dead_lettered']:,}", "reconciles": e["reconciles"]} for name, e in sources.items()],
        "funnels": [(name, hbars(funnel(e), " docs", color=COLORS[i % len(COLORS)])) for i, (name, e) in enumerate(sources.items())],
        "tokens_chart": hbars([(s, float(n)) for s, n in build.get("tokens_per_source", {}).items()], " tokens") if build.get("tokens_per_source") else None,
        "drop_reasons": [{"source": name, "stage": stage, "reason": reason, "count": f"{n:,}", "anchor": anchor(stage, reason) if (stage, reason) in sampled else None}
                         for name, e in sources.items() for key, n in sorted(e["dropped"].items(), key=lambda kv: -kv[1]) for stage, reason in [key.split("/", 1)]],
        "repositories": [[name, f"{r['repositories']:,}", f"{r['documents']:,}", f"{r['files']:,}", f"{r['files_in_documents']:,}",
                          _top(r["files_skipped"], 20) or "none", _top(r["languages"], 8)] for name, e in sources.items() if (r := e.get("repositories"))],
        "samples": [{**s, "anchor": anchor(s["stage"], s["reason"])} for s in drop_samples or []],
    }
    mix = build.get("mix", {})
    if mix:
        names = sorted(mix)
        data["mix"] = {
            "chart": grouped_bars(names, {"target": [mix[s]["target_share"] for s in names], "achieved": [mix[s]["achieved_share"] for s in names]}),
            "rows": [[s, m["rule"], f"{m['curated_tokens']:,}", f"{m['target_tokens']:,}", f"{m['achieved_tokens']:,}", f"{m['target_share']:.2%}",
                      f"{m['achieved_share']:.2%}", m["whole_copies"], f"{m['sampled_out']:,}"] for s, m in sorted(mix.items())],
        }
    languages: dict[str, int] = {}
    for e in sources.values():
        for lang, n in e.get("languages", {}).items():
            languages[lang] = languages.get(lang, 0) + n
    top_languages = sorted(languages.items(), key=lambda kv: -kv[1])[:15]
    data["languages_chart"] = hbars([(k, float(v)) for k, v in top_languages], " docs", color=COLORS[2]) if languages else None
    data["language_rows"] = language_rows(sources)
    data["score_charts"] = []
    for name, e in sources.items():
        by_label: dict[str, dict[str, int]] = {}
        for key, n in e.get("classifier_scores", {}).items():
            label, bin_start = key.rsplit("/", 1)
            by_label.setdefault(label, {})[bin_start] = n
        for label, bins in sorted(by_label.items()):
            values = [float(bins.get(f"{b / 10:.1f}", 0)) for b in range(10)]
            data["score_charts"].append((f"{name}: {label} score", grouped_bars([f"{b / 10:.1f}" for b in range(10)], {"documents": values}, percent=False)))
    data["length_charts"] = []
    for name, e in sources.items():
        h = e.get("length_histogram", {})
        exponents = sorted({int(b) for part in h.values() for b in part})
        if exponents:
            series: dict[str, Sequence[float]] = {part: [float(h.get(part, {}).get(str(b), 0)) for b in exponents] for part in ("read", "kept")}
            data["length_charts"].append((name, grouped_bars([f"≥{2 ** b:,}" for b in exponents], series, percent=False)))
    near = curate.get("near_dedup")
    if near:
        data["near"] = {
            "totals": [f"{near['candidate_pairs']:,}", f"{near['duplicate_pairs']:,}", ", ".join(f"{k}: {v:,}" for k, v in near["duplicate_of"].items()) or "none"],
            "sizes_chart": hbars([(f"{k} documents", float(v)) for k, v in near["cluster_sizes"].items()], " clusters", color=COLORS[3]),
            "clusters": clusters or [],
        }
    if build:
        packing, fim = build.get("packing", {}), build.get("fim", {})
        data["packing"] = [packing.get("strategy", ""), f"{build.get('rows', 0):,}", f"{build.get('tokens', 0):,}", f"{packing.get('padding_share', 0):.3%}",
                           f"{packing.get('documents_split', 0):,}", f"{fim.get('psm', 0):,}", f"{fim.get('spm', 0):,}", f"{build.get('split_tokens', 0):,}",
                           f"{train.get('vocab_size', '')}"]
    return data


@lru_cache(maxsize=1)
def _template() -> jinja2.Template:
    env = jinja2.Environment(loader=jinja2.PackageLoader("pipeline.report", "templates"), autoescape=True, trim_blocks=True, lstrip_blocks=True)
    return env.get_template("report.html.j2")


def render(report: dict[str, Any], drop_samples: list[dict[str, Any]] | None = None, clusters: list[dict[str, Any]] | None = None) -> str:
    """The report page of ``report.json`` and its sample files."""
    return _template().render(**report_data(report, drop_samples, clusters))
