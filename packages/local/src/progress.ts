import type { RunStatus } from '@fanout/shared';

export interface ProgressSink {
  update(status: RunStatus, extra: { deadLettered: number; elapsedMs: number }): void;
  done(): void;
}

function line(status: RunStatus, extra: { deadLettered: number; elapsedMs: number }): string {
  const seconds = (extra.elapsedMs / 1000).toFixed(1);
  return (
    `${seconds}s batches ${status.batches} | sources ` +
    // Detail pages are tasks of the run too: the counts after the colon are of both.
    (status.detailTasks > 0 ? `and ${status.detailTasks} detail pages: ` : '') +
    `${status.collected} collected, ` +
    `${status.unchanged} unchanged, ` +
    (status.notDue > 0 ? `${status.notDue} not due, ` : '') +
    `${status.failed} failed, ${status.pending} pending | ` +
    `pages ${status.parsed} parsed, ${status.quarantined} quarantined, ${status.unparsed} waiting` +
    (extra.deadLettered > 0 ? ` | ${extra.deadLettered} dead-lettered` : '')
  );
}

/** A progress bar redrawn in place on a terminal. */
function terminalProgress(stream: NodeJS.WriteStream): ProgressSink {
  const width = 24;
  return {
    update(status, extra) {
      // Sources not due count as done: they have nothing to wait for.
      const tasks = status.sources + status.detailTasks;
      const doneTasks = tasks - status.pending;
      // Work left is tasks without an outcome and pages without a parse outcome.
      const total = tasks + status.pages;
      const done = doneTasks + status.parsed + status.quarantined;
      const ratio = total === 0 ? 0 : Math.min(1, done / total);
      const filled = Math.round(ratio * width);
      const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
      const text = `${bar} ${line(status, extra)}`;
      const columns = stream.columns || 120;
      stream.write(`\r${text.slice(0, columns - 1).padEnd(columns - 1)}`);
    },
    done() {
      stream.write('\n');
    },
  };
}

/** One line per change, for logs and pipes. */
function plainProgress(stream: NodeJS.WritableStream): ProgressSink {
  let last = '';
  return {
    update(status, extra) {
      const text = line(status, { ...extra, elapsedMs: 0 }).replace(/^0\.0s /, '');
      if (text === last) return;
      last = text;
      stream.write(`${line(status, extra)}\n`);
    },
    done() {},
  };
}

export function progressFor(stream: NodeJS.WriteStream, enabled: boolean): ProgressSink {
  if (!enabled) return { update() {}, done() {} };
  return stream.isTTY ? terminalProgress(stream) : plainProgress(stream);
}
