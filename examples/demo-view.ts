// The demo's live view on a terminal: a bar per worker that grows as it answers fragments,
// drawn in a second shade after a worker is lost, so the lost worker's share can be seen
// moving to the others. Pure: counts in, lines of text out; the demo does the writing.

export interface WorkerCounts {
  readonly name: string;
  readonly address: string;
  /** Fragments this worker answered before the lost worker stopped. */
  readonly answeredBefore: number;
  /** Fragments this worker answered after the lost worker stopped. */
  readonly answeredAfter: number;
  /** Of its answers, how many came after an attempt on another worker failed. */
  readonly retriedHere: number;
  /** Attempts that failed on this worker (refused, reset, timed out). */
  readonly failedHere: number;
  /** Set when this worker was stopped: how many answers the whole fan-out had then. */
  readonly stoppedAfter?: number | undefined;
}

export interface DemoState {
  readonly total: number;
  readonly answered: number;
  readonly elapsedMs: number;
  readonly workers: readonly WorkerCounts[];
  /** What happened so far, oldest first, each with the time it happened. */
  readonly events: ReadonlyArray<{ readonly atMs: number; readonly text: string }>;
  /** The count that fills a bar: the most one worker can expect to answer. */
  readonly barMax: number;
  /** How wide a bar is, in characters. */
  readonly barWidth?: number;
}

const before = '█';
const after = '▓';
const empty = '·';
const stopped = '✕';

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** Cells of a bar for a count, never more than the bar holds. */
function cells(count: number, max: number, width: number): number {
  return Math.min(width, Math.round((count / Math.max(1, max)) * width));
}

function bar(worker: WorkerCounts, max: number, width: number): string {
  const solid = cells(worker.answeredBefore, max, width);
  const shaded = cells(worker.answeredBefore + worker.answeredAfter, max, width) - solid;

  // A stopped worker's bar ends in a cross, so the moment it died stays visible.
  const mark = worker.stoppedAfter === undefined ? '' : stopped;
  const rest = Math.max(0, width - solid - shaded - mark.length);
  return before.repeat(solid) + after.repeat(shaded) + mark + empty.repeat(rest);
}

function notes(worker: WorkerCounts): string {
  const parts: string[] = [];
  if (worker.stoppedAfter !== undefined) {
    parts.push(`stopped after ${worker.stoppedAfter} answers`);
  }
  if (worker.retriedHere > 0) parts.push(`${worker.retriedHere} retried here`);
  if (worker.failedHere > 0) parts.push(`${worker.failedHere} attempts failed`);
  return parts.join(', ');
}

/** The lines of one frame of the live view. */
export function renderFrame(state: DemoState): string[] {
  const width = state.barWidth ?? 32;
  const nameWidth = Math.max(...state.workers.map((worker) => worker.name.length), 0);
  const addressWidth = Math.max(...state.workers.map((worker) => worker.address.length), 0);
  const countWidth = String(state.total).length;
  const lost = state.workers.find((worker) => worker.stoppedAfter !== undefined);

  const rows = state.workers.map((worker) => {
    const answered = worker.answeredBefore + worker.answeredAfter;
    const note = notes(worker);
    return `  ${worker.name.padEnd(nameWidth)}  ${worker.address.padEnd(addressWidth)}  ` +
      `${bar(worker, state.barMax, width)} ${String(answered).padStart(countWidth)}` +
      (note === '' ? '' : `  ${note}`);
  });
  const key = lost
    ? `  ${before} answered before ${lost.name} stopped   ${after} after   ${stopped} stopped`
    : `  ${before} answered`;

  return [
    `  ${state.answered}/${state.total} answered   ${seconds(state.elapsedMs)}`,
    ...rows,
    key,
    ...state.events.map((event) => `  ${seconds(event.atMs).padStart(6)}  ${event.text}`),
  ];
}

/**
 * What to write to a terminal to replace the previous frame (of `previousLines` lines) with
 * `lines`: move up, then rewrite each line, clearing what was left of the old one.
 */
export function redraw(previousLines: number, lines: readonly string[]): string {
  const up = previousLines > 0 ? `\x1b[${previousLines}F` : '';
  return up + lines.map((line) => `\x1b[2K${line}\n`).join('');
}
