/** How far a replay is: what {@link formatProgress} shows. */
export interface ReplayProgress {
  /** Log records read so far (whatever became of them). */
  records: number;
  /** Bytes read from disk so far, as stored (compressed bytes for a gzip file). */
  bytesDone: number;
  /** Size of every file to read, as stored. */
  bytesTotal: number;
  /** Milliseconds since the replay started reading. */
  elapsedMs: number;
}

/** A size in decimal units, as `ls -h --si` prints it: `812 B`, `35.2 kB`, `123.4 MB`, `2.35 GB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1e3) return `${Math.round(bytes)} B`;
  if (bytes < 1e6) return `${(bytes / 1e3).toFixed(1)} kB`;
  if (bytes < 1e9) return `${(bytes / 1e6).toFixed(1)} MB`;
  return `${(bytes / 1e9).toFixed(2)} GB`;
}

/** A duration for an ETA: `45s`, `4m 05s`, `2h 07m`. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * The progress line: `replay: 1,234,567 records  45,678 records/s  123.4 MB of 456.7 MB (27%)  ETA 2m 05s`.
 * Rate and ETA need a second of history (before that they would mostly be noise: `--`); the ETA assumes the rest of
 * the bytes go at the average speed so far.
 */
export function formatProgress({ records, bytesDone, bytesTotal, elapsedMs }: ReplayProgress): string {
  const n = (x: number) => Math.round(x).toLocaleString('en');
  const measured = elapsedMs >= 1000 && bytesDone > 0;
  const rate = measured ? `${n(records / (elapsedMs / 1000))} records/s` : '-- records/s';
  const pct = bytesTotal > 0 ? Math.min(100, Math.floor((bytesDone / bytesTotal) * 100)) : 100;
  const eta = measured ? formatDuration((Math.max(0, bytesTotal - bytesDone) * elapsedMs) / bytesDone) : '--';
  return `replay: ${n(records)} records  ${rate}  ${formatBytes(bytesDone)} of ${formatBytes(bytesTotal)} (${pct}%)  ETA ${eta}`;
}

/** Where progress goes: a terminal stream (`process.stderr`) or a fake one in tests. */
export interface ProgressStream {
  /** Set (true) on a terminal: progress is drawn only then. */
  isTTY?: boolean;
  /** Width of the terminal: a longer line is cut so the redraw stays on one line. */
  columns?: number;
  write(text: string): unknown;
}

/** Draws {@link formatProgress} lines in place on a terminal. */
export interface ProgressReporter {
  /** Redraws the line if the last draw is at least `intervalMs` old (so at most a few times a second). */
  update(p: Omit<ReplayProgress, 'elapsedMs'>): void;
  /** Erases the line (before the summary is printed). */
  finish(): void;
}

/**
 * A progress reporter on `stream`: silent unless the stream is a terminal (a redirected stderr, a pipe, a CI log get
 * no carriage returns), redrawn at most every `intervalMs` (250 ms: 4 times a second).
 */
export function createProgressReporter(
  stream: ProgressStream | undefined,
  { intervalMs = 250, now = () => performance.now() }: { intervalMs?: number; now?: () => number } = {},
): ProgressReporter {
  if (stream?.isTTY !== true) return { update() {}, finish() {} };
  const started = now();
  let lastDraw = -Infinity;
  let drawn = false;
  return {
    update(p) {
      const t = now();
      if (t - lastDraw < intervalMs) return;
      lastDraw = t;
      let line = formatProgress({ ...p, elapsedMs: t - started });
      const width = stream.columns;
      if (width !== undefined && width > 1 && line.length >= width) line = line.slice(0, width - 1);
      // \r back to the start of the line, \x1b[K erases what a longer previous line left.
      stream.write(`\r${line}\x1b[K`);
      drawn = true;
    },
    finish() {
      if (drawn) stream.write('\r\x1b[K');
      drawn = false;
    },
  };
}
