import { describe, expect, it } from 'vitest';
import {
  createProgressReporter,
  formatBytes,
  formatDuration,
  formatProgress,
  type ProgressStream,
} from './replay-progress.js';

function fakeStream(isTTY: boolean | undefined, columns?: number): ProgressStream & { written: string[] } {
  const written: string[] = [];
  return {
    written,
    ...(isTTY === undefined ? {} : { isTTY }),
    ...(columns === undefined ? {} : { columns }),
    write: (t: string) => written.push(t),
  };
}

describe('replay progress', () => {
  it('formats sizes in decimal units and durations for an ETA', () => {
    expect([812, 35_200, 123_400_000, 2_345_000_000].map(formatBytes)).toEqual([
      '812 B',
      '35.2 kB',
      '123.4 MB',
      '2.35 GB',
    ]);
    expect([0, 45_000, 245_000, 7_620_000].map(formatDuration)).toEqual(['0s', '45s', '4m 05s', '2h 07m']);
  });

  it('shows records, records/s, bytes done of total and an ETA at the average speed so far', () => {
    // 100 MB of 400 MB in 10 s: 300 MB left at 10 MB/s is 30 s.
    expect(formatProgress({ records: 250_000, bytesDone: 100e6, bytesTotal: 400e6, elapsedMs: 10_000 })).toBe(
      'replay: 250,000 records  25,000 records/s  100.0 MB of 400.0 MB (25%)  ETA 30s',
    );
    // Under a second of history: no rate, no ETA (noise).
    expect(formatProgress({ records: 10, bytesDone: 1_000, bytesTotal: 4_000, elapsedMs: 200 })).toBe(
      'replay: 10 records  -- records/s  1.0 kB of 4.0 kB (25%)  ETA --',
    );
    expect(formatProgress({ records: 7, bytesDone: 4_000, bytesTotal: 4_000, elapsedMs: 2_000 })).toMatch(
      /\(100%\) {2}ETA 0s$/,
    );
  });

  it('draws nothing when the stream is not a terminal', () => {
    for (const s of [fakeStream(false), fakeStream(undefined)]) {
      const r = createProgressReporter(s, { now: () => 5_000 });
      r.update({ records: 1, bytesDone: 1, bytesTotal: 2 });
      r.finish();
      expect(s.written).toEqual([]);
    }
    const none = createProgressReporter(undefined);
    expect(() => none.update({ records: 1, bytesDone: 1, bytesTotal: 2 })).not.toThrow();
  });

  it('redraws in place on a terminal at most every 250 ms, and erases the line at the end', () => {
    const s = fakeStream(true);
    let t = 0;
    const r = createProgressReporter(s, { now: () => t });
    const p = { records: 0, bytesDone: 0, bytesTotal: 4e6 };
    r.update(p); // t = 0: first draw
    for (t = 10; t < 250; t += 10) r.update({ ...p, records: t }); // throttled
    t = 2_000;
    r.update({ records: 50_000, bytesDone: 1e6, bytesTotal: 4e6 });
    expect(s.written).toEqual([
      '\rreplay: 0 records  -- records/s  0 B of 4.0 MB (0%)  ETA --\x1b[K',
      '\rreplay: 50,000 records  25,000 records/s  1.0 MB of 4.0 MB (25%)  ETA 6s\x1b[K',
    ]);
    r.finish();
    expect(s.written.at(-1)).toBe('\r\x1b[K');
    expect(s.written).toHaveLength(3);
  });

  it('cuts the line to the terminal width so a redraw never wraps', () => {
    const s = fakeStream(true, 20);
    createProgressReporter(s, { now: () => 0 }).update({ records: 1, bytesDone: 1, bytesTotal: 2 });
    expect(s.written).toEqual(['\rreplay: 1 records  \x1b[K']);
  });
});
