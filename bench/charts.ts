// Small SVG charts for benchmark results: pure functions from numbers to SVG text, so the
// README can show pictures without a charting dependency or a browser.

export interface Series {
  readonly name: string;
  readonly points: ReadonlyArray<readonly [number, number]>;
}

export interface LineChartSpec {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  /** Plot x on a log2 scale (concurrency levels double). */
  readonly logX?: boolean;
}

export interface BarChartSpec {
  readonly title: string;
  readonly yLabel: string;
  readonly categories: readonly string[];
  readonly series: ReadonlyArray<{ readonly name: string; readonly values: readonly number[] }>;
}

const width = 640;
const height = 360;
const margin = { top: 40, right: 150, bottom: 50, left: 70 };
const colours = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function niceMax(value: number): number {
  if (value <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  const steps = [1, 2, 2.5, 5, 10];
  const step = steps.find((candidate) => candidate * magnitude >= value) ?? 10;
  return step * magnitude;
}

function format(value: number): string {
  if (Math.abs(value) >= 1000) return `${Math.round(value / 100) / 10}k`;
  return String(Math.round(value * 100) / 100);
}

function frame(title: string, yLabel: string, xLabel: string, body: string[]): string {
  const plotHeight = height - margin.top - margin.bottom;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
      `viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${escape(title)}</text>`,
    `<text transform="translate(16 ${margin.top + plotHeight / 2}) rotate(-90)" ` +
      `text-anchor="middle">${escape(yLabel)}</text>`,
    `<text x="${margin.left + (width - margin.left - margin.right) / 2}" y="${height - 10}" ` +
      `text-anchor="middle">${escape(xLabel)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

function yAxis(maxY: number): string[] {
  const plotHeight = height - margin.top - margin.bottom;
  const plotRight = width - margin.right;
  const lines: string[] = [];
  for (let tick = 0; tick <= 4; tick += 1) {
    const value = (maxY * tick) / 4;
    const y = margin.top + plotHeight - (plotHeight * tick) / 4;
    lines.push(
      `<line x1="${margin.left}" x2="${plotRight}" y1="${y}" y2="${y}" stroke="#ddd"/>`,
      `<text x="${margin.left - 6}" y="${y + 4}" text-anchor="end">${format(value)}</text>`,
    );
  }
  return lines;
}

function legend(names: readonly string[]): string[] {
  return names.flatMap((name, index) => {
    const y = margin.top + 10 + index * 18;
    const x = width - margin.right + 12;
    return [
      `<rect x="${x}" y="${y - 9}" width="12" height="12" fill="${colours[index % 6]}"/>`,
      `<text x="${x + 18}" y="${y + 1}">${escape(name)}</text>`,
    ];
  });
}

/** A line chart with one line per series. */
export function lineChart(spec: LineChartSpec): string {
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  const xs = spec.series.flatMap((series) => series.points.map(([x]) => x));
  const ys = spec.series.flatMap((series) => series.points.map(([, y]) => y));
  const scaleX = (x: number): number => (spec.logX ? Math.log2(Math.max(x, 1)) : x);
  const minX = Math.min(...xs.map(scaleX));
  const maxX = Math.max(...xs.map(scaleX));
  const maxY = niceMax(Math.max(...ys));
  const span = maxX - minX;
  const px = (x: number): number =>
    margin.left + (span === 0 ? plotWidth / 2 : ((scaleX(x) - minX) / span) * plotWidth);
  const py = (y: number): number => margin.top + plotHeight - (y / maxY) * plotHeight;

  const tickY = margin.top + plotHeight + 18;
  const ticks = [...new Set(xs)].sort((a, b) => a - b).map((x) =>
    `<text x="${px(x)}" y="${tickY}" text-anchor="middle">${format(x)}</text>`);
  const lines = spec.series.flatMap((series, index) => {
    const colour = colours[index % colours.length];
    const path = series.points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`);
    return [
      `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${path.join(' ')}"/>`,
      ...series.points.map(([x, y]) =>
        `<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${colour}"/>`),
    ];
  });
  return frame(spec.title, spec.yLabel, spec.xLabel, [
    ...yAxis(maxY), ...ticks, ...lines, ...legend(spec.series.map((series) => series.name)),
  ]);
}

/** Grouped bars: one group per category, one bar per series. */
export function barChart(spec: BarChartSpec): string {
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  const maxY = niceMax(Math.max(...spec.series.flatMap((series) => series.values)));
  const group = plotWidth / spec.categories.length;
  const bar = (group * 0.8) / spec.series.length;

  const bars = spec.series.flatMap((series, s) => series.values.map((value, c) => {
    const h = (value / maxY) * plotHeight;
    const x = margin.left + c * group + group * 0.1 + s * bar;
    return `<rect x="${x.toFixed(1)}" y="${(margin.top + plotHeight - h).toFixed(1)}" ` +
      `width="${(bar - 1).toFixed(1)}" height="${h.toFixed(1)}" fill="${colours[s % 6]}"/>`;
  }));
  const labels = spec.categories.map((category, c) =>
    `<text x="${(margin.left + c * group + group / 2).toFixed(1)}" ` +
    `y="${margin.top + plotHeight + 18}" text-anchor="middle">${escape(category)}</text>`);
  return frame(spec.title, spec.yLabel, '', [
    ...yAxis(maxY), ...bars, ...labels, ...legend(spec.series.map((series) => series.name)),
  ]);
}
