import { describe, expect, it } from 'vitest';
import { redraw, renderFrame, type WorkerCounts } from '../examples/demo-view.ts';

function worker(name: string, counts: Partial<WorkerCounts> = {}): WorkerCounts {
  return {
    name,
    address: `127.0.0.1:7101`,
    answeredBefore: 0,
    answeredAfter: 0,
    retriedHere: 0,
    failedHere: 0,
    ...counts,
  };
}

describe('the demo live view', () => {
  it('draws a bar per worker from its counts, before any worker is lost', () => {
    const lines = renderFrame({
      total: 400,
      answered: 60,
      elapsedMs: 450,
      barMax: 100,
      barWidth: 10,
      workers: [worker('w-0', { answeredBefore: 30 }), worker('w-1', { answeredBefore: 30 })],
      events: [],
    });

    expect(lines).toEqual([
      '  60/400 answered   0.5 s',
      '  w-0  127.0.0.1:7101  ███·······  30',
      '  w-1  127.0.0.1:7101  ███·······  30',
      '  █ answered',
    ]);
  });

  it('marks the lost worker and shades the share the others took after it stopped', () => {
    const lines = renderFrame({
      total: 400,
      answered: 400,
      elapsedMs: 2_150,
      barMax: 200,
      barWidth: 10,
      workers: [
        worker('w-0', { answeredBefore: 60, answeredAfter: 140, retriedHere: 3 }),
        worker('w-1', { answeredBefore: 60, failedHere: 3, stoppedAfter: 120 }),
        worker('w-2', { answeredBefore: 0, answeredAfter: 140 }),
      ],
      events: [{ atMs: 800, text: 'stopping w-1' }],
    });

    expect(lines).toEqual([
      '  400/400 answered   2.1 s',
      '  w-0  127.0.0.1:7101  ███▓▓▓▓▓▓▓ 200  3 retried here',
      '  w-1  127.0.0.1:7101  ███✕······  60  stopped after 120 answers, 3 attempts failed',
      '  w-2  127.0.0.1:7101  ▓▓▓▓▓▓▓··· 140',
      '  █ answered before w-1 stopped   ▓ after   ✕ stopped',
      '   0.8 s  stopping w-1',
    ]);
  });

  it('never draws a bar longer than its width, even past the expected maximum', () => {
    const [, row] = renderFrame({
      total: 10,
      answered: 10,
      elapsedMs: 0,
      barMax: 5,
      barWidth: 8,
      workers: [worker('w', { answeredBefore: 10 })],
      events: [],
    });

    expect(row).toBe('  w  127.0.0.1:7101  ████████ 10');
  });

  it('redraws in place: up over the old frame, then each line cleared and rewritten', () => {
    expect(redraw(0, ['a', 'b'])).toBe('\x1b[2Ka\n\x1b[2Kb\n');
    expect(redraw(2, ['c'])).toBe('\x1b[2F\x1b[2Kc\n');
  });
});
