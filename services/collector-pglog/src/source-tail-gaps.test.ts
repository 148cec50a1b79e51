import { appendFileSync, mkdtempSync, rmSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LogTailer, logGapEvent, type LogGap } from './source-tail.js';

const root = mkdtempSync(join(tmpdir(), 'vigie-pglog-gaps-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const line = (i: number) => `{"n":"${String(i).padStart(3, '0')}","m":"${'x'.repeat(81)}"}`; // 100 bytes with \n
const lines = (from: number, n: number) => Array.from({ length: n }, (_, k) => `${line(from + k)}\n`).join('');

/** Polls until the end of the log, collecting records and gaps. */
async function drain(tailer: LogTailer): Promise<{ records: number; gaps: LogGap[] }> {
  let records = 0;
  const gaps: LogGap[] = [];
  for (let read = await tailer.poll(); ; read = await tailer.poll()) {
    records += read.records.length;
    gaps.push(...read.gaps);
    if (read.eof) return { records, gaps };
  }
}

describe('LogTailer gaps: files that shrink or vanish before they are read to their end', () => {
  it('reports a file cut shorter than what was read, with what it had and what is lost', async () => {
    const dir = mkdtempSync(join(root, 't-'));
    const file = join(dir, 'postgresql-1.json');
    writeFileSync(file, lines(0, 10));
    const tailer = new LogTailer({ format: 'jsonlog', logDirectory: dir, chunkBytes: 4096 });
    await tailer.start(undefined, 'beginning');
    expect(await drain(tailer)).toEqual({ records: 10, gaps: [] });
    truncateSync(file, 300);
    const after = await drain(tailer);
    expect(after.gaps).toEqual([
      { reason: 'truncated', file, readBytes: 1000, knownBytes: 1000, sizeNow: 300, unreadBytes: 0 },
    ]);
    expect(after.records).toBe(3); // read again from the start, as before
    await tailer.close();
  });

  it('counts bytes it had seen and not read when the cut comes while it is behind', async () => {
    const dir = mkdtempSync(join(root, 'b-'));
    const file = join(dir, 'postgresql-1.json');
    writeFileSync(file, lines(0, 100)); // 10,000 bytes; read 4 KiB at a time
    const tailer = new LogTailer({ format: 'jsonlog', logDirectory: dir, chunkBytes: 4096 });
    await tailer.start(undefined, 'beginning');
    const first = await tailer.poll();
    expect(first.records.length).toBe(40);
    truncateSync(file, 0);
    const { gaps } = await drain(tailer);
    expect(gaps).toEqual([
      { reason: 'truncated', file, readBytes: 4096, knownBytes: 10_000, sizeNow: 0, unreadBytes: 10_000 - 4096 },
    ]);
    await tailer.close();
  });

  it('reports the file being read when it is unlinked, once, and still reads it to its end', async () => {
    const dir = mkdtempSync(join(root, 'u-'));
    const file = join(dir, 'postgresql-1.json');
    writeFileSync(file, lines(0, 5));
    const tailer = new LogTailer({ format: 'jsonlog', logDirectory: dir });
    await tailer.start(undefined, 'beginning');
    await drain(tailer);
    appendFileSync(file, lines(5, 3));
    unlinkSync(file);
    const after = await drain(tailer);
    expect(after.records).toBe(3);
    expect(after.gaps).toEqual([{ reason: 'deleted', file, readBytes: 800, knownBytes: 800, unreadBytes: 0 }]);
    expect((await drain(tailer)).gaps).toEqual([]);
    await tailer.close();
  });

  it('reports a newer file deleted before the tailer reached it, with all its bytes unread', async () => {
    const dir = mkdtempSync(join(root, 'n-'));
    const [a, b, c] = ['postgresql-1.json', 'postgresql-2.json', 'postgresql-3.json'].map((n) => join(dir, n));
    writeFileSync(a!, lines(0, 50)); // 5,000 bytes, read 4 KiB at a time
    writeFileSync(b!, lines(50, 7));
    writeFileSync(c!, lines(57, 2));
    const tailer = new LogTailer({ format: 'jsonlog', logDirectory: dir, chunkBytes: 4096 });
    // Resuming at the start of the oldest file (a collector catching up after a stop).
    const st = statSync(a!);
    await tailer.start({ file: a!, dev: st.dev, ino: st.ino, offset: 0 });
    await tailer.poll(); // 4 KiB of the first file
    await tailer.poll(); // its end
    const atEnd = await tailer.poll(); // end of file: lists the newer files, moves to b
    expect([atEnd.gaps, tailer.currentFile]).toEqual([[], b]);
    unlinkSync(c!); // waiting, never opened
    const { records, gaps } = await drain(tailer);
    expect(records).toBe(7);
    expect(gaps).toEqual([{ reason: 'deleted', file: c, readBytes: 0, knownBytes: 200, unreadBytes: 200 }]);
    await tailer.close();
  });

  it('reports the checkpoint file missing at start, and one cut while stopped', async () => {
    const dir = mkdtempSync(join(root, 'c-'));
    const file = join(dir, 'postgresql-2.json');
    writeFileSync(file, lines(0, 4));
    const gone = new LogTailer({ format: 'jsonlog', logDirectory: dir });
    await gone.start({ file: join(dir, 'postgresql-1.json'), dev: 1, ino: 1, offset: 777 });
    expect((await gone.poll()).gaps).toEqual([
      { reason: 'missing', file: join(dir, 'postgresql-1.json'), readBytes: 777, unreadBytes: 0 },
    ]);
    await gone.close();
    const probe = new LogTailer({ format: 'jsonlog', logDirectory: dir });
    await probe.start(undefined, 'end');
    const at = probe.position();
    await probe.close();
    const cut = new LogTailer({ format: 'jsonlog', logDirectory: dir });
    await cut.start({ ...at!, offset: 999 });
    expect((await cut.poll()).gaps).toEqual([
      { reason: 'truncated', file, readBytes: 999, sizeNow: 400, unreadBytes: 0 },
    ]);
    await cut.close();
  });

  it('turns a gap into a log.gap event with a deterministic id', () => {
    const gap: LogGap = {
      reason: 'truncated',
      file: '/l/p.json',
      readBytes: 10,
      knownBytes: 20,
      sizeNow: 0,
      unreadBytes: 10,
    };
    const at = new Date('2026-11-28T02:00:00Z');
    expect(logGapEvent('local', gap, at)).toEqual({
      v: 1,
      id: 'local:log-gap:truncated:/l/p.json:10:0',
      kind: 'log.gap',
      cluster: 'local',
      ts: '2026-11-28T02:00:00.000Z',
      source: { file: '/l/p.json', offset: 10 },
      reason: 'truncated',
      file: '/l/p.json',
      readBytes: 10,
      knownBytes: 20,
      sizeNow: 0,
      unreadBytes: 10,
    });
  });
});
