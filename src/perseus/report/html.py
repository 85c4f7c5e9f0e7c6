"""One self-contained HTML report of an experiment run: inline CSS, figures as base64 PNGs, no scripts or
external assets, every string escaped; and `write_report`, which writes it beside its figures and the
kind's data files (a frontier run's frontier.csv)."""

import base64
import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from perseus.core.files import replacing
from perseus.experiments.results import ExperimentResults
from perseus.report import fmt, kinds
from perseus.report.figure import WrittenFigure, write_figures
from perseus.report.table import Cell, TableData, probes_table

REPORT_NAME = "report.html"

_CSS = """
body { font: 15px/1.45 -apple-system, "Segoe UI", "Liberation Sans", Arial, sans-serif; color: #1d1d1f;
       margin: 0; background: #fafafa; }
main { max-width: 1040px; margin: 0 auto; padding: 24px 32px 48px; background: #fff; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 32px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.meta { color: #555; margin: 0 0 16px; }
.headline { font-size: 22px; font-weight: 700; padding: 12px 16px; border-radius: 6px; margin: 16px 0; }
.headline.good { background: #e8f5ec; color: #1e6b34; }
.headline.bad { background: #fbeaea; color: #9b1c1c; }
.headline.neutral { background: #eef2f8; color: #24406b; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 8px 0; font-size: 14px; }
th, td { border-bottom: 1px solid #e3e3e3; padding: 4px 10px; vertical-align: top; }
th { background: #f3f4f6; text-align: left; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.best td { font-weight: 700; background: #f1f8f3; }
.good { color: #1e6b34; }
.bad { color: #b42318; font-weight: 700; }
.warn { color: #a15c00; }
.dim { color: #888; }
p.note { margin: 4px 0; }
.warnings { background: #fff8e1; border-left: 4px solid #f0b400; padding: 8px 16px; margin: 16px 0; }
.warnings li { color: #7a4f00; }
figure { margin: 16px 0; }
figure img { width: 100%; max-width: 1000px; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 13px; }
details { margin: 8px 0; }
summary { cursor: pointer; color: #24406b; }
pre { background: #f6f8fa; padding: 8px; overflow-x: auto; font-size: 12px; }
table.facts th { width: 220px; background: none; }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _cell(cell: Cell, tag: str, numeric: bool) -> str:
    classes = " ".join(c for c in ("num" if numeric else "", cell.tone or "") if c)
    attr = f' class="{classes}"' if classes else ""
    return f"<{tag}{attr}>{_e(cell.text)}</{tag}>"


def table_html(data: TableData) -> str:
    head = "".join(
        f'<th class="num">{_e(c)}</th>' if i >= data.labels else f"<th>{_e(c)}</th>"
        for i, c in enumerate(data.columns)
    )
    body = []
    for index, row in enumerate(data.rows):
        cells = "".join(_cell(c, "td", i >= data.labels) for i, c in enumerate(row))
        body.append(f'<tr class="best">{cells}</tr>' if index in data.bold else f"<tr>{cells}</tr>")
    notes = "".join(
        f'<p class="note {n.tone or ""}">{_e(n.text)}</p>' if n.tone else f'<p class="note">{_e(n.text)}</p>'
        for n in data.notes
    )
    return (
        f'<section id="{_e(data.key)}"><h2>{_e(data.title)}</h2>'
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>{notes}</section>"
    )


def figure_html(figure: WrittenFigure) -> str:
    data = base64.b64encode(figure.path.read_bytes()).decode("ascii")
    caption = figure.caption
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{_e(caption)}">'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def _headline(results: ExperimentResults) -> str:
    line = kinds.headline(results)
    if line is None:
        return ""
    tone = "neutral" if line.saving is None else "bad" if line.saving < 0 else "good"
    return f'<p class="headline {tone}">{_e(line.text)}.</p>'


def _probes(results: ExperimentResults) -> str:
    parts = [table_html(probes_table(p)) for p in kinds.searches(results)]
    if not parts:
        return ""
    return f"<details><summary>How each λ was found: every probe</summary>{''.join(parts)}</details>"


def _provenance(results: ExperimentResults) -> str:
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in fmt.provenance_facts(results))
    spec = json.dumps(results.spec, indent=2, sort_keys=True, default=str)
    return (
        '<section id="provenance"><h2>Provenance</h2>'
        f"<p>{_e(fmt.WEIGHTS_SENTENCE)}</p>"
        f'<table class="facts"><tbody>{rows}</tbody></table>'
        f"<details><summary>Experiment spec as stored</summary><pre>{_e(spec)}</pre></details></section>"
    )


def render_html(results: ExperimentResults, figures: Sequence[WrittenFigure] = ()) -> str:
    """The whole page as one string; `figures` are PNG files to embed, each after the table it
    illustrates (at the end when that table is absent)."""
    left = list(figures)
    parts: list[str] = []
    for data in kinds.tables(results):
        parts.append(table_html(data))
        for figure in [f for f in left if f.after == data.key]:
            parts.append(figure_html(figure))
            left.remove(figure)
    parts += [figure_html(f) for f in left]
    if not parts:
        parts.append('<p class="warn">No results to show: the run stored no finished section.</p>')
    lines = kinds.warnings(results)
    warning_html = (
        '<section class="warnings"><strong>Warnings</strong><ul>'
        + "".join(f"<li>{_e(w)}</li>" for w in lines)
        + "</ul></section>"
        if lines
        else ""
    )
    title = f"{results.name} — run {results.run_id}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body><main>"
        f"<h1>{_e(results.name)}</h1>"
        f'<p class="meta">{_e(results.kind)} · run {results.run_id} · {_e(results.status)}'
        f"{' (' + _e(results.reason) + ')' if results.reason else ''} · {_e(fmt.sla_text(results))} · "
        f"{_e(fmt.machine_text(results.provenance))} · {_e(fmt.trials_text(results))}</p>"
        f"{_headline(results)}{warning_html}{''.join(parts)}{_probes(results)}{_provenance(results)}"
        "</main></body></html>\n"
    )


@dataclass(frozen=True)
class Written:
    html: Path  # report.html
    data: list[tuple[Path, str]]  # data files beside it (e.g. frontier.csv) and what each is for


def write_report(results: ExperimentResults, out_dir: Path) -> Written:
    """Figures, the kind's data files and report.html (figures embedded, so the HTML alone is the
    report) into out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = write_figures(kinds.figures(results), out_dir)
    data = []
    for file in kinds.data_files(results):
        with replacing(out_dir / file.name) as tmp:
            tmp.write_text(file.text, encoding="utf-8")
        data.append((out_dir / file.name, file.use))
    path = out_dir / REPORT_NAME
    with replacing(path) as tmp:
        tmp.write_text(render_html(results, figures), encoding="utf-8")
    return Written(path, data)
