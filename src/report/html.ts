/** Self-contained HTML: inline CSS, inline SVG figures, no scripts, opens offline. */
import type { MetricValue } from '../core/stage-api.js';
import type { Section, TableBlock } from './sections.js';

export interface RenderedFigure {
  title: string;
  svg: string;
  caption?: string;
  specFile: string;
}

export interface RenderedSection extends Omit<Section, 'figures'> {
  figures: RenderedFigure[];
}

export interface MetricsEntry {
  stage: string;
  variant: string;
  metrics: Record<string, MetricValue>;
}

const CSS = `
:root { --fg:#1d2330; --muted:#5b6475; --line:#d9dee7; --accent:#2b6cb0; --bg:#fff; --soft:#f5f7fa; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif; color:var(--fg); background:var(--bg); }
header { padding:28px 40px 18px; border-bottom:1px solid var(--line); background:var(--soft); }
header h1 { margin:0 0 4px; font-size:24px; }
header p { margin:2px 0; color:var(--muted); }
/* one line however many sections a sweep adds: a wrapped sticky bar would hide the page under it */
nav { padding:10px 40px; border-bottom:1px solid var(--line); position:sticky; top:0; background:var(--bg); z-index:1; white-space:nowrap; overflow-x:auto; }
nav a { margin-right:18px; color:var(--accent); text-decoration:none; font-weight:500; }
main { padding:10px 40px 60px; max-width:1900px; }
section { margin-top:28px; }
h2 { font-size:19px; border-bottom:2px solid var(--accent); padding-bottom:4px; }
.notes { color:var(--muted); margin:6px 0 14px; padding-left:18px; }
/* figures keep their drawn size (scaled down only on narrow screens) and sit side by side where they fit */
.figures { display:flex; flex-wrap:wrap; gap:18px; align-items:flex-start; }
figure { margin:0; padding:10px; border:1px solid var(--line); border-radius:6px; background:#fff; overflow-x:auto; max-width:100%; }
.tables { display:flex; flex-wrap:wrap; gap:0 28px; align-items:flex-start; }
.table-wrap { max-width:100%; overflow-x:auto; }
figure svg { max-width:100%; height:auto; }
/* a caption wraps within its figure's width instead of widening the figure */
figcaption { font-size:13px; color:var(--muted); margin-top:4px; width:0; min-width:100%; }
table { border-collapse:collapse; margin:10px 0 18px; font-size:13px; }
caption { text-align:left; color:var(--muted); padding-bottom:4px; }
th, td { border:1px solid var(--line); padding:3px 8px; text-align:left; vertical-align:top; }
th { background:var(--soft); }
tr.groups th { text-align:center; border-bottom:2px solid var(--line); }
td.num { text-align:right; font-variant-numeric:tabular-nums; }
.metrics td.value { font-family:ui-monospace,SFMono-Regular,Menlo,monospace; max-width:520px; overflow-wrap:anywhere; }
`;

export function renderHtml(
  title: string, subtitle: string[], sections: RenderedSection[], metrics: MetricsEntry[],
  metricsNote = 'Every metric of every stage feeding this report (also in <code>metrics.json</code> beside this file).',
): string {
  const nav = [...sections.map((s) => `<a href="#${s.id}">${esc(s.title)}</a>`), '<a href="#metrics">Metrics</a>'].join('');
  const body = sections.map(renderSection).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<header><h1>${esc(title)}</h1>${subtitle.map((s) => `<p>${esc(s)}</p>`).join('')}</header>
<nav>${nav}</nav>
<main>
${body}
<section id="metrics" class="metrics">
<h2>Metrics</h2>
<p class="notes">${metricsNote}</p>
${metricsTable(metrics)}
</section>
</main>
</body>
</html>
`;
}

function renderSection(s: RenderedSection): string {
  const notes = s.notes.length ? `<ul class="notes">${s.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : '';
  const figures = s.figures.length
    ? `<div class="figures">${s.figures.map((f) => `<figure data-spec="${esc(f.specFile)}">${f.svg}<figcaption>${esc(f.caption ?? f.title)}</figcaption></figure>`).join('\n')}</div>`
    : '';
  const tables = s.tables.length ? `<div class="tables">${s.tables.map(renderTable).join('')}</div>` : '';
  return `<section id="${s.id}" class="report-section">\n<h2>${esc(s.title)}</h2>\n${notes}${s.figuresFirst ? figures + tables : tables + figures}\n</section>`;
}

// summaries such as `0.213 ± 0.004 ★` align like numbers
const NUMERIC = /^-?[\d.]+(e[-+]?\d+)?( ± [\d.]+(e[-+]?\d+)?)?( ★)?$/;

function renderTable(t: TableBlock): string {
  // stage.metric_name headers may break after . and _ so that wide tables fit the page
  const groups = t.headerGroups ? `<tr class="groups">${t.headerGroups.map((g) => `<th colspan="${g.span}">${esc(g.label)}</th>`).join('')}</tr>` : '';
  const head = `${groups}<tr>${t.header.map((h) => `<th>${esc(h).replace(/([._])/g, '$1<wbr>')}</th>`).join('')}</tr>`;
  const rows = t.rows.map((r) => `<tr>${r.map((c) => (typeof c === 'number' || (c && NUMERIC.test(c)) ? `<td class="num">${esc(String(c))}</td>` : `<td>${esc(c ?? '')}</td>`)).join('')}</tr>`).join('');
  return `<div class="table-wrap"><table><caption>${esc(t.caption)}</caption>${head}${rows}</table></div>`;
}

/** The same values as metrics.json, one row per (stage, variant, metric). */
function metricsTable(entries: MetricsEntry[]): string {
  const rows: string[] = [];
  for (const e of entries) {
    for (const [name, value] of Object.entries(e.metrics)) {
      rows.push(`<tr data-stage="${esc(e.stage)}" data-variant="${esc(e.variant)}" data-metric="${esc(name)}"><td>${esc(e.stage)}</td><td>${esc(e.variant)}</td><td>${esc(name)}</td><td class="value">${valueCell(JSON.stringify(value))}</td></tr>`);
    }
  }
  return `<table id="metrics-table"><tr><th>stage</th><th>variant</th><th>metric</th><th>value</th></tr>${rows.join('')}</table>`;
}

/** Long values fold away; the full text stays in the page (the table mirrors metrics.json). */
function valueCell(json: string): string {
  if (json.length <= 160) return `<span class="v">${esc(json)}</span>`;
  return `<details><summary>${esc(json.slice(0, 100))}…</summary><span class="v">${esc(json)}</span></details>`;
}

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
