"""``report/index.html``: the run report people read, self-contained (inline SVG, no server, no JS).

Sections: totals and timing, reconciliation, per-source funnel, drop reasons with sampled
documents, target vs achieved mixture, languages, length histograms, near-duplicate clusters and
packing. Rendered from ``report.json`` and the sample files after every job.
"""
from __future__ import annotations

from html import escape
from typing import Any, Optional, Sequence

COLORS = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f")
FUNNEL_STAGES = (("read", "read"), ("dead letters", "dead_letter"), ("normalize", "normalize"), ("filter", "filter"),
                 ("exact dedup", "exact_dedup"), ("near dedup", "near_dedup"))


def hbars(rows: Sequence[tuple[str, float]], unit: str = "", width: int = 520, color: str = COLORS[0]) -> str:
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
    return "".join(parts)


def grouped_bars(groups: Sequence[str], series: dict[str, Sequence[float]], percent: bool = True, width: int = 520) -> str:
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
            parts.append(f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{bar_w - 2:.1f}" height="{h:.1f}" fill="{COLORS[si % len(COLORS)]}"><title>{escape(name)} {escape(group)}: {label}</title></rect>')
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{base - h - 3:.1f}" font-size="10" text-anchor="middle">{label}</text>')
        parts.append(f'<text x="{10 + gi * slot + slot / 2:.1f}" y="{base + 16}" font-size="12" text-anchor="middle">{escape(group)}</text>')
    for si, name in enumerate(series):
        parts.append(f'<rect x="{10 + si * 130}" y="{base + 26}" width="10" height="10" fill="{COLORS[si % len(COLORS)]}"/><text x="{24 + si * 130}" y="{base + 35}" font-size="12">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def funnel(entry: dict[str, Any]) -> list[tuple[str, float]]:
    """Documents remaining after each stage of one source."""
    by_stage: dict[str, int] = {}
    for key, n in entry["dropped"].items():
        stage = key.split("/", 1)[0]
        by_stage[stage] = by_stage.get(stage, 0) + n
    remaining = entry["read"]
    rows = [("read", float(remaining))]
    for label, stage in FUNNEL_STAGES[1:]:
        removed = entry["dead_lettered"] if stage == "dead_letter" else by_stage.get(stage, 0)
        remaining -= removed
        rows.append((f"after {label}", float(remaining)))
    return rows


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c if isinstance(c, Markup) else escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class Markup(str):
    """HTML that is already safe (our own markup)."""


def _anchor(stage: str, reason: str) -> str:
    return f"samples-{stage}-{reason}".replace("/", "-")


def render(report: dict[str, Any], drop_samples: Optional[list[dict[str, Any]]] = None, clusters: Optional[list[dict[str, Any]]] = None) -> str:
    curate, build, train = report.get("curate", {}), report.get("build", {}), report.get("train_tokenizer", {})
    sources = curate.get("sources", {})
    sampled = {(s["stage"], s["reason"]) for s in drop_samples or []}
    sections = []

    total_read = sum(e["read"] for e in sources.values())
    total_kept = sum(e["kept"] for e in sources.values())
    timing = [(job, report[job].get("seconds", 0)) for job in ("curate", "train_tokenizer", "build") if job in report]
    sections.append("<h2>Run</h2>" + _table(
        ["documents read", "documents kept", "tokens written", "rows", "config hash"],
        [[f"{total_read:,}", f"{total_kept:,}", f"{build.get('tokens', 0):,}", f"{build.get('rows', 0):,}", curate.get("config_hash", "")[:16]]],
    ) + "<h3>Time per job</h3>" + hbars([(job, s) for job, s in timing], " s", color=COLORS[4]))

    recon = [[name, f"{e['read']:,}", f"{e['kept']:,}", f"{sum(e['dropped'].values()):,}", f"{e['dead_lettered']:,}",
              Markup('<b class="ok">✓ reconciles</b>' if e["reconciles"] else '<b class="bad">✗ does not reconcile</b>')] for name, e in sources.items()]
    sections.append("<h2>Reconciliation</h2><p>read = kept + dropped + dead-lettered, per source (curate).</p>"
                    + _table(["source", "read", "kept", "dropped", "dead-lettered", "check"], recon))

    funnels = "".join(f"<h3>{escape(name)}</h3>" + hbars(funnel(e), " docs", color=COLORS[i % len(COLORS)]) for i, (name, e) in enumerate(sources.items()))
    tokens = build.get("tokens_per_source", {})
    sections.append('<h2 id="funnel">Funnel per source</h2>' + funnels
                    + ("<h3>Tokens written</h3>" + hbars([(s, float(n)) for s, n in tokens.items()], " tokens") if tokens else ""))

    reason_rows = []
    for name, e in sources.items():
        for key, n in sorted(e["dropped"].items(), key=lambda kv: -kv[1]):
            stage, reason = key.split("/", 1)
            link = Markup(f'<a href="#{_anchor(stage, reason)}">samples</a>') if (stage, reason) in sampled else ""
            reason_rows.append([name, stage, reason, f"{n:,}", link])
    sections.append("<h2>Drop reasons</h2>" + _table(["source", "stage", "reason", "documents", ""], reason_rows))

    repo_rows = [[name, f"{r['repositories']:,}", f"{r['documents']:,}", f"{r['files']:,}", f"{r['files_in_documents']:,}",
                  ", ".join(f"{k}: {n:,}" for k, n in sorted(r["files_skipped"].items(), key=lambda kv: -kv[1])) or "none",
                  ", ".join(f"{k}: {n:,}" for k, n in sorted(r["languages"].items(), key=lambda kv: -kv[1])[:8])]
                 for name, e in sources.items() if (r := e.get("repositories"))]
    if repo_rows:
        sections.append("<h2>Repositories</h2><p>Files in dependency order, one document per repository (parts at file boundaries); "
                        "skipped files are drops of stage repo.</p>"
                        + _table(["source", "repositories", "documents", "files", "in documents", "skipped", "languages (files)"], repo_rows))

    mix = build.get("mix", {})
    if mix:
        names = sorted(mix)
        series = {"target": [mix[s]["target_share"] for s in names], "achieved": [mix[s]["achieved_share"] for s in names]}
        rows = [[s, m["rule"], f"{m['curated_tokens']:,}", f"{m['target_tokens']:,}", f"{m['achieved_tokens']:,}", f"{m['target_share']:.2%}",
                 f"{m['achieved_share']:.2%}", m["whole_copies"], f"{m['sampled_out']:,}"] for s, m in sorted(mix.items())]
        sections.append('<h2 id="mixture">Mixture (share of tokens)</h2><p>Decided in the build from real token counts; documents without a copy are '
                        'drops of stage mix (<code>drops/mix-part-*.parquet</code>).</p>' + grouped_bars(names, series)
                        + _table(["source", "rule", "curated tokens", "target tokens", "achieved tokens", "target share", "achieved share", "copies of all", "sampled out"], rows))

    languages: dict[str, int] = {}
    for e in sources.values():
        for lang, n in e.get("languages", {}).items():
            languages[lang] = languages.get(lang, 0) + n
    if languages:
        top = sorted(languages.items(), key=lambda kv: -kv[1])[:15]
        sections.append("<h2>Languages (kept documents)</h2>" + hbars([(k, float(v)) for k, v in top], " docs", color=COLORS[2]))

    scores = []
    for name, e in sources.items():
        by_label: dict[str, dict[str, int]] = {}
        for key, n in e.get("classifier_scores", {}).items():
            label, bin_start = key.rsplit("/", 1)
            by_label.setdefault(label, {})[bin_start] = n
        for label, bins in sorted(by_label.items()):
            labels = [f"{b / 10:.1f}" for b in range(10)]
            scores.append(f"<h3>{escape(name)}: {escape(label)} score</h3>" + grouped_bars(labels, {"documents": [float(bins.get(f"{b / 10:.1f}", 0)) for b in range(10)]}, percent=False))
    if scores:
        sections.append('<h2 id="scores">Classifier scores</h2><p>Kept and dropped documents by score (tenths); the drop samples of a '
                        "classifier are its borderline documents, the highest scores under its threshold.</p>" + "".join(scores))

    hist = []
    for name, e in sources.items():
        h = e.get("length_histogram", {})
        bins = sorted({int(b) for part in h.values() for b in part})
        if bins:
            labels = [f"≥{2 ** b:,}" for b in bins]
            hist.append(f"<h3>{escape(name)}: characters per document</h3>" + grouped_bars(labels, {
                "read": [float(h.get("read", {}).get(str(b), 0)) for b in bins], "kept": [float(h.get("kept", {}).get(str(b), 0)) for b in bins]}, percent=False))
    if hist:
        sections.append("<h2>Length histograms</h2>" + "".join(hist))

    near = curate.get("near_dedup")
    if near:
        sections.append("<h2>Near duplicates</h2>" + _table(["candidate pairs", "verified duplicate pairs", "duplicates (source → keeper source)"],
                        [[f"{near['candidate_pairs']:,}", f"{near['duplicate_pairs']:,}", ", ".join(f"{k}: {v:,}" for k, v in near["duplicate_of"].items()) or "none"]])
                        + "<h3>Cluster sizes</h3>" + hbars([(f"{k} documents", float(v)) for k, v in near["cluster_sizes"].items()], " clusters", color=COLORS[3])
                        + "".join(f"<details><summary>cluster kept as {escape(c['keeper'])} ({len(c['members'])} documents)</summary>"
                                  + "".join(f"<p><b>{escape(m['id'])}</b><br><code>{escape(m['text'])}</code></p>" for m in c["members"]) + "</details>" for c in clusters or []))

    if build:
        packing, fim = build.get("packing", {}), build.get("fim", {})
        sections.append("<h2>Packing</h2>" + _table(
            ["strategy", "rows", "tokens", "padding", "documents cut", "FIM PSM", "FIM SPM", "split tokens", "tokenizer vocab"],
            [[packing.get("strategy", ""), f"{build.get('rows', 0):,}", f"{build.get('tokens', 0):,}", f"{packing.get('padding_share', 0):.3%}",
              f"{packing.get('documents_split', 0):,}", f"{fim.get('psm', 0):,}", f"{fim.get('spm', 0):,}", f"{build.get('split_tokens', 0):,}", f"{train.get('vocab_size', '')}"]]))

    if drop_samples:
        blocks = []
        for s in drop_samples:
            docs = "".join(f"<p><b>{escape(d['id'])}</b> — {escape(d['detail'])}<br><code>{escape(d['text'])}</code></p>" for d in s["documents"])
            blocks.append(f'<details id="{_anchor(s["stage"], s["reason"])}"><summary>{escape(s["stage"])} / {escape(s["reason"])} ({len(s["documents"])} samples)</summary>{docs}</details>')
        sections.append("<h2>Sampled documents</h2><p>Dropped documents per stage and reason; <i>kept_borderline</i>: the documents a "
                        "classifier kept with the lowest scores.</p>" + "".join(blocks))

    style = ("body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;color:#222}table{border-collapse:collapse;margin:.5em 0}"
             "td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px}th{background:#f3f3f3}code{white-space:pre-wrap;font-size:12px}"
             ".ok{color:#2a7a2a}.bad{color:#b00}details{margin:.3em 0}summary{cursor:pointer}")
    return f"<!doctype html><html><head><meta charset='utf-8'><title>corpusmill report</title><style>{style}</style></head><body><h1>corpusmill run report</h1>{''.join(sections)}</body></html>\n"
