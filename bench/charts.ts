// Small SVG charts for benchmark results: pure functions from numbers to SVG text, so the
// README can show pictures without a charting dependency or a browser.

export interface Series {
  readonly name: string;
  readonly points: ReadonlyArray<readonly [number, number]>;
  /**
   * Optional [low, high] per point, drawn as a whisker: the spread of repeated runs behind a
   * median. Index i belongs to points[i].
   */
  readonly ranges?: ReadonlyArray<readonly [number, number]>;
  /** Draw the line dashed, for a reference such as "ideal". */
  readonly dashed?: boolean;
}

export interface LineChartSpec {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  /** Plot x on a log2 scale (concurrency levels double). */
  readonly logX?: boolean;
  /**
   * Where the y axis starts; 0 by default. Raise it when the interesting differences are
   * small against the values (keys per worker near the mean).
   */
  readonly yMin?: number;
  /** Label x ticks only at these values rather than at every point's x. */
  readonly xTicks?: readonly number[];
}

export interface BarChartSpec {
  readonly title: string;
  readonly yLabel: string;
  readonly categories: readonly string[];
  readonly series: ReadonlyArray<{ readonly name: string; readonly values: readonly number[] }>;
  /** A dashed horizontal line across the plot, such as an ideal value. */
  readonly reference?: { readonly name: string; readonly value: number };
  /** Text after each bar's value label, such as "%". */
  readonly unit?: string;
  /** Fixed decimals for the bar labels, so neighbouring labels line up (1.00% beside 0.96%). */
  readonly decimals?: number;
}

const height = 360;
const plotWidth = 420;
const margin = { top: 40, bottom: 50, left: 70 };
const colours = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];
const referenceColour = '#555';

// Roughly the advance of one 12 px sans-serif character; enough to keep the legend inside.
const charWidth = 7;

/** Escapes text for SVG content and attribute values alike. */
export function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** The y scale: ticks at a round step (1, 2, 2.5 or 5 times a power of ten), 3 to 5 of them. */
interface Scale {
  readonly min: number;
  readonly step: number;
  readonly ticks: number;
}

function niceScale(min: number, max: number): Scale {
  const range = max - min;
  if (!Number.isFinite(range) || range <= 0) return { min, step: 0.25, ticks: 4 };
  const rough = range / 4;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = ([1, 2, 2.5, 5, 10].find((n) => n * magnitude >= rough) ?? 10) * magnitude;
  return { min, step, ticks: Math.max(3, Math.ceil(range / step - 1e-9)) };
}

const top = (scale: Scale): number => scale.min + scale.step * scale.ticks;

function format(value: number): string {
  const size = Math.abs(value);
  if (size >= 10_000) return `${Math.round(value / 1000)}k`;
  if (size >= 1000) return `${Math.round(value / 100) / 10}k`;
  if (size >= 100) return String(Math.round(value));
  if (size >= 10) return String(Math.round(value * 10) / 10);
  return String(Math.round(value * 100) / 100);
}

/** Finite numbers only: one NaN would otherwise poison every coordinate through min/max. */
function finite(values: readonly number[]): number[] {
  return values.filter((value) => Number.isFinite(value));
}

/** The geometry shared by both charts: the legend sets the right margin. */
interface Layout {
  readonly width: number;
  readonly right: number;
  readonly plotHeight: number;
}

function layout(legendNames: readonly string[]): Layout {
  const longest = Math.max(0, ...legendNames.map((name) => name.length));
  const right = Math.max(120, 40 + longest * charWidth);
  return { width: margin.left + plotWidth + right, right, plotHeight: height - 90 };
}

function frame(shape: Layout, title: string, yLabel: string, xLabel: string, body: string[]) {
  const { width, plotHeight } = shape;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
      `viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(title)}</text>`,
    `<text transform="translate(16 ${margin.top + plotHeight / 2}) rotate(-90)" ` +
      `text-anchor="middle">${escapeXml(yLabel)}</text>`,
    `<text x="${margin.left + plotWidth / 2}" y="${height - 10}" ` +
      `text-anchor="middle">${escapeXml(xLabel)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

function yAxis(shape: Layout, scale: Scale): string[] {
  const plotRight = margin.left + plotWidth;
  const lines: string[] = [];
  for (let tick = 0; tick <= scale.ticks; tick += 1) {
    const value = scale.min + scale.step * tick;
    const y = margin.top + shape.plotHeight - (shape.plotHeight * tick) / scale.ticks;
    lines.push(
      `<line x1="${margin.left}" x2="${plotRight}" y1="${y}" y2="${y}" stroke="#ddd"/>`,
      `<text x="${margin.left - 6}" y="${y + 4}" text-anchor="end">${format(value)}</text>`,
    );
  }
  return lines;
}

interface LegendEntry {
  readonly name: string;
  readonly colour: string;
  readonly dashed?: boolean | undefined;
}

function legend(shape: Layout, entries: readonly LegendEntry[]): string[] {
  return entries.flatMap((entry, index) => {
    const y = margin.top + 10 + index * 18;
    const x = margin.left + plotWidth + 16;
    const swatch = entry.dashed
      ? `<line x1="${x}" x2="${x + 12}" y1="${y - 3}" y2="${y - 3}" stroke="${entry.colour}" ` +
        'stroke-width="2" stroke-dasharray="4 2"/>'
      : `<rect x="${x}" y="${y - 9}" width="12" height="12" fill="${entry.colour}"/>`;
    return [swatch, `<text x="${x + 18}" y="${y + 1}">${escapeXml(entry.name)}</text>`];
  });
}

/** A line chart with one line per series, optional whiskers and a dashed reference line. */
export function lineChart(spec: LineChartSpec): string {
  const shape = layout(spec.series.map((series) => series.name));
  const points = spec.series.map((series) =>
    series.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)));
  const scaleX = (x: number): number => (spec.logX ? Math.log2(Math.max(x, 1)) : x);
  const xs = points.flat().map(([x]) => x);
  const highs = spec.series.flatMap((series) => (series.ranges ?? []).map(([, high]) => high));
  const ys = finite([...points.flat().map(([, y]) => y), ...highs]);
  const scaled = xs.map(scaleX);
  const minX = scaled.length === 0 ? 0 : Math.min(...scaled);
  const maxX = scaled.length === 0 ? 1 : Math.max(...scaled);
  const minY = spec.yMin ?? 0;
  const scale = niceScale(minY, Math.max(minY, ...ys));
  const maxY = top(scale);
  const span = maxX - minX;

  // With whiskers, nudge each series sideways a little so overlapping ranges stay apart.
  const hasRanges = spec.series.some((series) => series.ranges !== undefined);
  const nudge = (index: number): number =>
    hasRanges ? (index - (spec.series.length - 1) / 2) * 5 : 0;
  const px = (x: number): number =>
    margin.left + (span === 0 ? plotWidth / 2 : ((scaleX(x) - minX) / span) * plotWidth);

  // Clamp to the plot, so a whisker or point under yMin stays on the axis instead of below it.
  const py = (y: number): number => {
    const share = Math.min(1, Math.max(0, (y - minY) / (maxY - minY)));
    return margin.top + shape.plotHeight - share * shape.plotHeight;
  };

  const tickY = margin.top + shape.plotHeight + 18;
  const tickValues = spec.xTicks ?? [...new Set(xs)].sort((a, b) => a - b);
  const ticks = tickValues.map((x) =>
    `<text x="${px(x).toFixed(1)}" y="${tickY}" text-anchor="middle">${format(x)}</text>`);
  const lines = spec.series.flatMap((series, index) => {
    const colour = series.dashed ? referenceColour : colours[index % colours.length];
    const own = points[index] ?? [];
    const sx = (x: number): string => (px(x) + nudge(index)).toFixed(1);
    const path = own.map(([x, y]) => `${sx(x)},${py(y).toFixed(1)}`);
    const dash = series.dashed ? ' stroke-dasharray="6 4"' : '';
    const whiskers = (series.ranges ?? []).flatMap((range, i) => {
      const point = series.points[i];
      if (!point || !Number.isFinite(range[0]) || !Number.isFinite(range[1])) return [];
      const x = sx(point[0]);
      return [`<line x1="${x}" x2="${x}" y1="${py(range[0]).toFixed(1)}" ` +
        `y2="${py(range[1]).toFixed(1)}" stroke="${colour}" stroke-width="1" opacity="0.6"/>`];
    });
    // Dots mark measured points; with many points they would only blur the line.
    const dotted = !series.dashed && own.length <= 30;
    const dots = !dotted ? [] : own.map(([x, y]) =>
      `<circle cx="${sx(x)}" cy="${py(y).toFixed(1)}" r="3" fill="${colour}"/>`);
    return [
      ...whiskers,
      `<polyline fill="none" stroke="${colour}" stroke-width="2"${dash} ` +
        `points="${path.join(' ')}"/>`,
      ...dots,
    ];
  });
  const entries = spec.series.map((series, index) => ({
    name: series.name,
    colour: series.dashed ? referenceColour : (colours[index % colours.length] as string),
    dashed: series.dashed,
  }));
  return frame(shape, spec.title, spec.yLabel, spec.xLabel, [
    ...yAxis(shape, scale), ...ticks, ...lines, ...legend(shape, entries),
  ]);
}

/** Grouped bars: one group per category, one bar per series, each labelled with its value. */
export function barChart(spec: BarChartSpec): string {
  const names = spec.series.map((series) => series.name);
  const shape = layout(spec.reference ? [...names, spec.reference.name] : names);
  const { plotHeight } = shape;
  const values = finite(spec.series.flatMap((series) => series.values));
  const scale = niceScale(0, Math.max(0, ...values, spec.reference?.value ?? 0));
  const maxY = top(scale);
  const group = plotWidth / Math.max(1, spec.categories.length);
  const bar = (group * 0.8) / Math.max(1, spec.series.length);
  const unit = spec.unit ?? '';

  const bars = spec.series.flatMap((series, s) => series.values.map((value, c) => {
    const safe = Number.isFinite(value) ? Math.max(0, value) : 0;
    const h = (safe / maxY) * plotHeight;
    const x = margin.left + c * group + group * 0.1 + s * bar;
    const barTop = margin.top + plotHeight - h;
    const shown = spec.decimals === undefined ? format(value) : value.toFixed(spec.decimals);
    const label = Number.isFinite(value) ? `${shown}${unit}` : 'n/a';
    return [
      `<rect x="${x.toFixed(1)}" y="${barTop.toFixed(1)}" ` +
        `width="${(bar - 1).toFixed(1)}" height="${h.toFixed(1)}" fill="${colours[s % 6]}"/>`,
      `<text x="${(x + bar / 2).toFixed(1)}" y="${(barTop - 4).toFixed(1)}" ` +
        `text-anchor="middle" font-size="10">${escapeXml(label)}</text>`,
    ];
  })).flat();
  const labels = spec.categories.map((category, c) =>
    `<text x="${(margin.left + c * group + group / 2).toFixed(1)}" ` +
    `y="${margin.top + plotHeight + 18}" text-anchor="middle">${escapeXml(category)}</text>`);

  const entries: LegendEntry[] = names.map((name, s) => ({
    name,
    colour: colours[s % colours.length] as string,
  }));
  const reference: string[] = [];
  if (spec.reference) {
    const y = (margin.top + plotHeight - (spec.reference.value / maxY) * plotHeight).toFixed(1);
    reference.push(`<line x1="${margin.left}" x2="${margin.left + plotWidth}" y1="${y}" ` +
      `y2="${y}" stroke="${referenceColour}" stroke-width="1.5" stroke-dasharray="6 4"/>`);
    entries.push({ name: spec.reference.name, colour: referenceColour, dashed: true });
  }
  return frame(shape, spec.title, spec.yLabel, '', [
    ...yAxis(shape, scale), ...bars, ...labels, ...reference, ...legend(shape, entries),
  ]);
}
