/**
 * The report's plots, written as SVG by hand and rendered to PNG with sharp (librsvg): ROC
 * curves of the probability of "Yes", per-subject recognition accuracy, and ablation curves.
 */
import sharp from 'sharp';
import { writeFileAtomic } from '../personalize/writeFileAtomic.ts';
import type { RocPoint } from './metrics.ts';

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf', '#393b79', '#637939', '#843c39', '#7b4173'];
export const colorOf = (i: number): string => COLORS[i % COLORS.length];

const FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"';

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Writes `<file>.svg` and `<file>.png`; returns the PNG's path. */
export async function writePlot(fileWithoutExtension: string, svg: string): Promise<string> {
  writeFileAtomic(`${fileWithoutExtension}.svg`, svg);
  const png = await sharp(Buffer.from(svg), { density: 144 }).png().toBuffer();
  writeFileAtomic(`${fileWithoutExtension}.png`, png);
  return `${fileWithoutExtension}.png`;
}

interface Frame { left: number; top: number; width: number; height: number }

function axes(frame: Frame, xLabel: string, yLabel: string, xTicks: { value: number; label: string }[], yTicks: { value: number; label: string }[], x: (v: number) => number, y: (v: number) => number): string {
  const { left, top, width, height } = frame;
  const parts = [`<rect x="${left}" y="${top}" width="${width}" height="${height}" fill="none" stroke="#444"/>`];
  for (const t of xTicks) parts.push(`<line x1="${x(t.value)}" y1="${top + height}" x2="${x(t.value)}" y2="${top + height + 4}" stroke="#444"/><text x="${x(t.value)}" y="${top + height + 16}" font-size="11" text-anchor="middle" ${FONT}>${escapeXml(t.label)}</text>`);
  for (const t of yTicks) parts.push(`<line x1="${left - 4}" y1="${y(t.value)}" x2="${left}" y2="${y(t.value)}" stroke="#444"/><line x1="${left}" y1="${y(t.value)}" x2="${left + width}" y2="${y(t.value)}" stroke="#eee"/><text x="${left - 7}" y="${y(t.value) + 4}" font-size="11" text-anchor="end" ${FONT}>${escapeXml(t.label)}</text>`);
  parts.push(`<text x="${left + width / 2}" y="${top + height + 34}" font-size="12" text-anchor="middle" ${FONT}>${escapeXml(xLabel)}</text>`);
  parts.push(`<text x="${left - 40}" y="${top + height / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 ${left - 40} ${top + height / 2})" ${FONT}>${escapeXml(yLabel)}</text>`);
  return parts.join('\n');
}

const unitTicks = [0, 0.25, 0.5, 0.75, 1].map((v) => ({ value: v, label: v.toFixed(2) }));

function svgDocument(width: number, height: number, title: string, body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">
<rect width="100%" height="100%" fill="white"/>
<text x="${width / 2}" y="20" font-size="14" font-weight="bold" text-anchor="middle" ${FONT}>${escapeXml(title)}</text>
${body}
</svg>
`;
}

export interface RocSeries { readonly label: string; readonly points: readonly RocPoint[]; readonly color: string }

export function rocSvg(series: readonly RocSeries[], title = 'Recognition ROC (P(Yes), all pairs)'): string {
  const legendWidth = 250;
  const frame: Frame = { left: 60, top: 34, width: 360, height: 360 };
  const x = (v: number) => frame.left + v * frame.width;
  const y = (v: number) => frame.top + (1 - v) * frame.height;
  const body = [axes(frame, 'false positive rate', 'true positive rate', unitTicks, unitTicks, x, y),
    `<line x1="${x(0)}" y1="${y(0)}" x2="${x(1)}" y2="${y(1)}" stroke="#bbb" stroke-dasharray="4 4"/>`];
  series.forEach((s, i) => {
    const path = s.points.map((p) => `${x(p.falsePositiveRate).toFixed(1)},${y(p.truePositiveRate).toFixed(1)}`).join(' ');
    body.push(`<polyline points="${path}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    const ly = frame.top + 10 + i * 18;
    body.push(`<line x1="${frame.left + frame.width + 16}" y1="${ly}" x2="${frame.left + frame.width + 36}" y2="${ly}" stroke="${s.color}" stroke-width="3"/><text x="${frame.left + frame.width + 42}" y="${ly + 4}" font-size="11" ${FONT}>${escapeXml(s.label)}</text>`);
  });
  return svgDocument(frame.left + frame.width + legendWidth, frame.top + frame.height + 50, title, body.join('\n'));
}

export interface DotSeries { readonly label: string; readonly color: string; readonly values: readonly (number | null)[] }

/** One row per category (subject), one coloured dot per series (method), x in [0, 1]. */
export function dotPlotSvg(categories: readonly string[], series: readonly DotSeries[], title: string, xLabel: string): string {
  const rowHeight = 18;
  const legendHeight = 18 * Math.ceil(series.length / 3) + 8;
  const frame: Frame = { left: 150, top: 34 + legendHeight, width: 420, height: Math.max(1, categories.length) * rowHeight };
  const x = (v: number) => frame.left + v * frame.width;
  const y = (row: number) => frame.top + (row + 0.5) * rowHeight;
  const body = [axes(frame, xLabel, '', unitTicks, [], x, (v) => v)];
  categories.forEach((name, row) => {
    body.push(`<text x="${frame.left - 6}" y="${y(row) + 4}" font-size="11" text-anchor="end" ${FONT}>${escapeXml(name)}</text>`);
    body.push(`<line x1="${frame.left}" y1="${y(row)}" x2="${frame.left + frame.width}" y2="${y(row)}" stroke="#f0f0f0"/>`);
  });
  series.forEach((s, i) => {
    s.values.forEach((v, row) => { if (v !== null && Number.isFinite(v)) body.push(`<circle cx="${x(v).toFixed(1)}" cy="${(y(row) + (i - (series.length - 1) / 2) * 1.5).toFixed(1)}" r="4" fill="${s.color}" fill-opacity="0.8"/>`); });
    const lx = 20 + (i % 3) * 200;
    const ly = 40 + Math.floor(i / 3) * 18;
    body.push(`<circle cx="${lx + 5}" cy="${ly - 4}" r="5" fill="${s.color}"/><text x="${lx + 15}" y="${ly}" font-size="11" ${FONT}>${escapeXml(s.label)}</text>`);
  });
  return svgDocument(Math.max(frame.left + frame.width + 30, 620), frame.top + frame.height + 50, title, body.join('\n'));
}

export interface LineSeries { readonly label: string; readonly color: string; readonly points: readonly { x: number; y: number | null }[] }

/** Scores against an ablation's setting (x on a categorical axis: the settings in order). */
export function linePlotSvg(xValues: readonly number[], series: readonly LineSeries[], title: string, xLabel: string): string {
  const frame: Frame = { left: 60, top: 34, width: 360, height: 260 };
  const position = (v: number) => frame.left + (xValues.length === 1 ? 0.5 : xValues.indexOf(v) / (xValues.length - 1)) * frame.width;
  const y = (v: number) => frame.top + (1 - v) * frame.height;
  const body = [axes(frame, xLabel, 'accuracy', xValues.map((v) => ({ value: v, label: String(v) })), unitTicks, position, y)];
  series.forEach((s, i) => {
    const known = s.points.filter((p) => p.y !== null && Number.isFinite(p.y));
    if (known.length > 1) body.push(`<polyline points="${known.map((p) => `${position(p.x).toFixed(1)},${y(p.y!).toFixed(1)}`).join(' ')}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    for (const p of known) body.push(`<circle cx="${position(p.x).toFixed(1)}" cy="${y(p.y!).toFixed(1)}" r="3.5" fill="${s.color}"/>`);
    const ly = frame.top + 10 + i * 18;
    body.push(`<line x1="${frame.left + frame.width + 16}" y1="${ly}" x2="${frame.left + frame.width + 36}" y2="${ly}" stroke="${s.color}" stroke-width="3"/><text x="${frame.left + frame.width + 42}" y="${ly + 4}" font-size="11" ${FONT}>${escapeXml(s.label)}</text>`);
  });
  return svgDocument(frame.left + frame.width + 200, frame.top + frame.height + 50, title, body.join('\n'));
}
