import { describe, expect, it } from 'vitest';
import { barChart, escapeXml, lineChart } from '../bench/charts.ts';
import { balancerFigures, transportFigures } from '../bench/figures.ts';

/** Every number in a coordinate or size attribute, which is where a NaN would surface. */
function coordinates(svg: string): string[] {
  const pattern = /\b(?:x|y|x1|x2|y1|y2|cx|cy|width|height|points)="([^"]*)"/g;
  return [...svg.matchAll(pattern)].flatMap((match) => (match[1] ?? '').split(/[ ,]+/));
}

function expectWellFormed(svg: string): void {
  expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
  expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
  expect(svg.match(/<svg\b/g)).toHaveLength(1);

  // Only the elements the helpers draw, each either self-closed or closed on the same line.
  for (const line of svg.trim().split('\n').slice(1, -1)) {
    const drawn = /^<(rect|line|polyline|circle)\b[^<>]*\/>$/;
    const text = /^<text\b[^<>]*>[^<>]*<\/text>$/;
    expect(drawn.test(line) || text.test(line), line).toBe(true);
  }

  for (const value of coordinates(svg).filter((text) => text !== '')) {
    expect(Number.isFinite(Number(value)), `coordinate ${value}`).toBe(true);
  }
}

const throughput = {
  title: 'Throughput',
  xLabel: 'concurrency',
  yLabel: 'requests/s',
  logX: true,
  series: [
    { name: 'plain Pool', points: [[16, 4000], [64, 6000], [256, 5000]] as const },
    {
      name: 'dispatcher',
      points: [[16, 4200], [64, 7000], [256, 6500]] as const,
      ranges: [[3000, 5000], [6000, 8000], [5000, 7000]] as const,
    },
  ],
};

describe('lineChart', () => {
  it('draws well-formed SVG with one line and one legend entry per series', () => {
    const svg = lineChart(throughput);

    expectWellFormed(svg);
    expect(svg.match(/<polyline /g)).toHaveLength(2);
    expect(svg).toContain('>plain Pool</text>');
    expect(svg).toContain('>dispatcher</text>');
    expect(svg.match(/<circle /g)).toHaveLength(6);
  });

  it('labels the x axis at each concurrency level', () => {
    const svg = lineChart(throughput);

    for (const level of ['16', '64', '256']) expect(svg).toContain(`>${level}</text>`);
  });

  it('leaves out points that are not finite rather than writing NaN', () => {
    const svg = lineChart({
      ...throughput,
      series: [{ name: 'gappy', points: [[16, 1], [64, Number.NaN], [256, 3]] }],
    });

    expectWellFormed(svg);
    expect(svg.match(/<circle /g)).toHaveLength(2);
  });

  it('draws something sane with no data at all', () => {
    expectWellFormed(lineChart({ title: 'empty', xLabel: 'x', yLabel: 'y', series: [] }));
  });

  it('escapes markup in the title, the labels and the series names', () => {
    const svg = lineChart({
      ...throughput,
      title: 'p99 <ms> & "more"',
      series: [{ name: "Pool<'a'>", points: [[1, 1]] }],
    });

    expectWellFormed(svg);
    expect(svg).toContain('p99 &lt;ms&gt; &amp; &quot;more&quot;');
    expect(svg).toContain('Pool&lt;&#39;a&#39;&gt;');
  });
});

describe('barChart', () => {
  const spec = {
    title: 'Keys moved',
    yLabel: '%',
    unit: '%',
    categories: ['rendezvous', 'maglev', 'ring'],
    series: [
      { name: 'leaves', values: [1, 1.6, 0.9] },
      { name: 'joins', values: [0.95, 1.6, Number.NaN] },
    ],
    reference: { name: 'ideal 1/n', value: 1 },
  };

  it('draws one bar per value, labelled, and a legend entry per series and reference', () => {
    const svg = barChart(spec);

    expectWellFormed(svg);
    expect(svg.match(/<rect x="\d/g)).toHaveLength(6 + 2);
    expect(svg).toContain('>1.6%</text>');
    expect(svg).toContain('>n/a</text>');
    for (const name of ['leaves', 'joins', 'ideal 1/n']) expect(svg).toContain(`>${name}</text>`);
    expect(svg).toContain('stroke-dasharray');
  });

  it('widens itself so a long legend entry stays inside the picture', () => {
    const short = barChart(spec);
    const long = barChart({
      ...spec,
      series: [{ name: 'a legend entry far longer than any of the others', values: [1, 2, 3] }],
    });
    const width = (svg: string): number => Number(/width="(\d+)"/.exec(svg)?.[1]);

    expect(width(long)).toBeGreaterThan(width(short));
  });
});

describe('escapeXml', () => {
  it('escapes the five XML special characters', () => {
    expect(escapeXml(`<a href="x">'&'</a>`)).toBe(
      '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;',
    );
  });
});

describe('figures from benchmark results', () => {
  const spread = (median: number) => ({ median, min: median * 0.8, max: median * 1.2 });

  it('draws throughput, p99 and fault charts from transport results', () => {
    const figures = transportFigures({
      throughput: {
        clients: ['Pool', 'BalancedPool', 'fanOut'].map((name, i) => ({
          name,
          levels: [16, 64, 256].map((concurrency) => ({
            concurrency,
            requestsPerSecond: spread(1000 * (i + 1)),
            p99Ms: spread(concurrency / 4),
          })),
        })),
      },
      faults: [
        { fault: 'none', hedgeAfterMs: null, finishMs: spread(1400) },
        { fault: 'SIGKILL', hedgeAfterMs: null, finishMs: spread(1600) },
        { fault: 'SIGKILL', hedgeAfterMs: 50, finishMs: spread(1500) },
      ],
    });

    expect(figures.map((figure) => figure.file)).toEqual([
      'transport-throughput.svg',
      'transport-p99.svg',
      'transport-faults.svg',
    ]);
    for (const figure of figures) expectWellFormed(figure.svg);
    expect(figures[2]?.svg).toContain('>hedge after 50 ms</text>');
  });

  it('draws balance and disruption charts from balancer results', () => {
    const figures = balancerFigures({
      balance: {
        workers: 4,
        keys: 400,
        rows: [
          {
            policy: 'maglev',
            keysPerWorker: [90, 110, 100, 100],
            movedOnRemove: 0.3,
            movedOnAdd: 0.2,
            idealOnRemove: 0.25,
          },
        ],
      },
    });

    for (const figure of figures) expectWellFormed(figure.svg);
    expect(figures[0]?.svg).toContain('>perfect balance</text>');
    expect(figures[1]?.svg).toContain('>ideal 1/n = 25.00%</text>');
  });
});
