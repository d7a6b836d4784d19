/**
 * The sweep's contact sheet: one self-contained HTML file (thumbnails inlined as PNG data URLs, each linking to its
 * full-size file; no script or style from anywhere else), so it can be mailed, archived or opened from a USB stick. Every cell is a card with its image, its
 * settings and its scores; a small script sorts the cards by any score and filters them by prompt, style or free
 * text. Above the cards, the style references and each axis value's mean scores: the paper-style comparison (with vs without AdaIN, SCFG, the
 * teacher) at a glance.
 */

export interface SheetEntry {
  readonly id: string;
  /** The picture shown (a thumbnail): inlined, so the sheet stands alone. */
  readonly png: Buffer;
  /** The full-size image relative to the sheet, opened by clicking the picture (works beside the sheet's folder). */
  readonly link: string;
  readonly prompt: string;
  readonly style: string;
  readonly seed: number;
  /** Axis name → value as text. */
  readonly axes: Readonly<Record<string, string>>;
  /** Score name → value (null: not applicable). */
  readonly scores: Readonly<Record<string, number | null>>;
}

export interface SheetReference {
  readonly name: string;
  /** A thumbnail, inlined like the cells' pictures. */
  readonly png: Buffer;
}

export interface SheetOptions {
  readonly title: string;
  /** The style references, shown above the cells so every score can be read against its reference. */
  readonly references: readonly SheetReference[];
  /** Score names in display order (keys of each entry's scores). */
  readonly scoreNames: readonly string[];
  /** Axis names in grid order. */
  readonly axisNames: readonly string[];
}

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

const fmt = (v: number | null | undefined): string => (v === null || v === undefined ? '–' : v.toFixed(4));

function options(values: readonly string[]): string {
  return values.map((v) => `<option value="${escapeHtml(v)}">${escapeHtml(v)}</option>`).join('');
}

/** Mean of each score per value of each axis, over the cells that have it. */
function axisMeans(entries: readonly SheetEntry[], o: SheetOptions): string {
  if (o.axisNames.length === 0) return '';
  const rows: string[] = [];
  for (const axis of o.axisNames) {
    const values = [...new Set(entries.map((e) => e.axes[axis]!))];
    for (const value of values) {
      const group = entries.filter((e) => e.axes[axis] === value);
      const means = o.scoreNames.map((s) => {
        const xs = group.map((e) => e.scores[s]).filter((x): x is number => typeof x === 'number');
        return xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length;
      });
      rows.push(`<tr><td>${escapeHtml(axis)}</td><td>${escapeHtml(value)}</td><td>${group.length}</td>${means.map((m) => `<td>${fmt(m)}</td>`).join('')}</tr>`);
    }
  }
  return `<table id="axis-means"><caption>Mean scores per axis value</caption><thead><tr><th>axis</th><th>value</th><th>cells</th>` +
    `${o.scoreNames.map((s) => `<th>${escapeHtml(s)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function card(e: SheetEntry, o: SheetOptions): string {
  const scoreAttrs = o.scoreNames.map((s) => ` data-score-${s}="${e.scores[s] ?? ''}"`).join('');
  const text = [e.prompt, e.style, `seed ${e.seed}`, ...Object.entries(e.axes).map(([k, v]) => `${k}=${v}`)].join(' ').toLowerCase();
  return `<figure class="cell" data-cell="${escapeHtml(e.id)}" data-prompt="${escapeHtml(e.prompt)}" data-style="${escapeHtml(e.style)}" ` +
    `data-text="${escapeHtml(text)}"${scoreAttrs}>` +
    `<a href="${escapeHtml(e.link)}"><img src="data:image/png;base64,${e.png.toString('base64')}" alt="${escapeHtml(`${e.prompt} — ${e.style}, seed ${e.seed}`)}"></a>` +
    `<figcaption><div class="prompt">${escapeHtml(e.prompt)}</div>` +
    `<div>${escapeHtml(e.style)} · seed ${e.seed}</div>` +
    `<div class="axes">${Object.entries(e.axes).map(([k, v]) => `${escapeHtml(k)}=${escapeHtml(v)}`).join(' · ')}</div>` +
    `<table class="scores">${o.scoreNames.map((s) => `<tr><th>${escapeHtml(s)}</th><td data-score="${escapeHtml(s)}">${fmt(e.scores[s])}</td></tr>`).join('')}</table>` +
    `</figcaption></figure>`;
}

/** Sorting and filtering, inlined in the page (kept small: plain DOM, no library). */
const SCRIPT = `
const cells = document.getElementById('cells');
const controls = ['sort', 'order', 'prompt', 'style', 'filter'].map((id) => document.getElementById(id));
const [sort, order, prompt, style, filter] = controls;
function apply() {
  const key = 'data-score-' + sort.value;
  const sign = order.value === 'asc' ? 1 : -1;
  const value = (c) => { const v = c.getAttribute(key); return v === '' || v === null ? null : Number(v); };
  const cards = Array.from(cells.children);
  cards.sort((a, b) => {
    const va = value(a), vb = value(b);
    if (va === null || vb === null) return (va === null) - (vb === null);
    return sign * (va - vb);
  });
  const q = filter.value.trim().toLowerCase();
  let shown = 0;
  for (const c of cards) {
    const visible = (prompt.value === '' || c.dataset.prompt === prompt.value) && (style.value === '' || c.dataset.style === style.value) &&
      (q === '' || c.dataset.text.includes(q));
    c.hidden = !visible;
    shown += visible ? 1 : 0;
    cells.appendChild(c);
  }
  document.getElementById('count').textContent = shown + ' of ' + cards.length + ' images';
}
for (const c of controls) c.addEventListener('input', apply);
apply();
`;

const STYLE = `
body { font: 14px system-ui, sans-serif; margin: 1.5em; color: #222; }
#references { display: flex; flex-wrap: wrap; gap: 0.8em; }
.reference { margin: 0; width: 128px; font-size: 12px; }
.reference img { width: 128px; height: auto; display: block; }
#controls { display: flex; flex-wrap: wrap; gap: 0.8em; align-items: center; margin: 1em 0; }
#cells { display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: 1em; }
.cell { margin: 0; border: 1px solid #ccc; border-radius: 6px; padding: 6px; background: #fafafa; }
.cell img { width: 100%; height: auto; display: block; image-rendering: auto; }
.cell .prompt { font-weight: 600; }
.cell .axes { color: #555; font-size: 12px; }
table { border-collapse: collapse; }
td, th { padding: 1px 6px; text-align: left; }
#axis-means td, #axis-means th { border-bottom: 1px solid #ddd; }
.scores th { font-weight: normal; color: #555; }
`;

export function contactSheetHtml(entries: readonly SheetEntry[], o: SheetOptions): string {
  const prompts = [...new Set(entries.map((e) => e.prompt))];
  const styles = [...new Set(entries.map((e) => e.style))];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(o.title)}</title><style>${STYLE}</style></head>
<body>
<h1>${escapeHtml(o.title)}</h1>
<div id="references">${o.references.map((r) => `<figure class="reference"><img src="data:image/png;base64,${r.png.toString('base64')}" alt="${escapeHtml(r.name)}"><figcaption>${escapeHtml(r.name)}</figcaption></figure>`).join('')}</div>
${axisMeans(entries, o)}
<div id="controls">
<label>sort by <select id="sort">${options(o.scoreNames)}</select></label>
<select id="order" aria-label="order"><option value="desc">highest first</option><option value="asc">lowest first</option></select>
<label>prompt <select id="prompt"><option value="">all</option>${options(prompts)}</select></label>
<label>style <select id="style"><option value="">all</option>${options(styles)}</select></label>
<label>filter <input id="filter" type="search" placeholder="text in prompt, style, settings"></label>
<span id="count"></span>
</div>
<div id="cells">${entries.map((e) => card(e, o)).join('\n')}</div>
<script>${SCRIPT}</script>
</body></html>
`;
}
