/**
 * Scores as files and as a terminal table: one flat record per image (JSON array, and CSV with a header row), so a
 * spreadsheet, pandas or the contact sheet reads them without knowing our types.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ImageScores } from './scorer';

/** A flat record: column name → value (null = not applicable, e.g. layout without a second style). */
export type ScoreRecord = Readonly<Record<string, string | number | null>>;

/** The score columns of one image, named so that a CSV header says what each is. */
export function scoreColumns(s: ImageScores): Record<string, number | null> {
  const out: Record<string, number | null> = { clip_t: s.clipT };
  for (const st of s.style) {
    out[`style_clip[${st.reference}]`] = st.clip;
    if (st.csd !== undefined) out[`style_csd[${st.reference}]`] = st.csd;
  }
  out['layout'] = s.layout;
  out['layout_pairs'] = s.layoutPairs;
  return out;
}

function csvField(v: string | number | null): string {
  if (v === null) return '';
  const text = typeof v === 'number' ? String(v) : v;
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** RFC 4180 CSV: the union of the records' columns, in first-seen order. */
export function toCsv(records: readonly ScoreRecord[]): string {
  const columns: string[] = [];
  for (const r of records) for (const k of Object.keys(r)) if (!columns.includes(k)) columns.push(k);
  const lines = [columns.map(csvField).join(',')];
  for (const r of records) lines.push(columns.map((c) => csvField(r[c] ?? null)).join(','));
  return `${lines.join('\n')}\n`;
}

/** Writes `base`.json and `base`.csv in `dir` through temporary files and renames; returns both paths. */
export function writeScoreFiles(dir: string, base: string, records: readonly ScoreRecord[]): { json: string; csv: string } {
  const json = path.join(dir, `${base}.json`);
  const csv = path.join(dir, `${base}.csv`);
  writeAtomically(json, `${JSON.stringify(records, null, 2)}\n`);
  writeAtomically(csv, toCsv(records));
  return { json, csv };
}

export function writeAtomically(file: string, text: string | Buffer): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

/** A fixed-width table of the records for the terminal (numbers to 4 decimals). */
export function formatTable(records: readonly ScoreRecord[]): string {
  if (records.length === 0) return '';
  const columns = Object.keys(records[0]!);
  const cell = (v: string | number | null | undefined) => (v === null || v === undefined ? '-' : typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(4)) : v);
  const rows = [columns, ...records.map((r) => columns.map((c) => cell(r[c])))];
  const widths = columns.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return `${rows.map((r) => r.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n')}\n`;
}
