import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LogTailer } from './source-tail.js';

const dir = mkdtempSync(join(tmpdir(), 'vigie-pglog-tail-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('LogTailer', () => {
  it('reads records far longer than a chunk whole, with exact offsets, in few reads', async () => {
    const long = `{"message":"${'x'.repeat(300_000)}"}`;
    const lines = ['{"a":1}', long, '{"b":2}', long, '{"c":3}'];
    writeFileSync(join(dir, 'postgresql-1.json'), `${lines.join('\n')}\n`);
    const tailer = new LogTailer({ format: 'jsonlog', logDirectory: dir, chunkBytes: 4096 });
    await tailer.start(undefined, 'beginning');
    const texts: string[] = [];
    const offsets: number[] = [];
    let polls = 0;
    for (;;) {
      const read = await tailer.poll();
      polls += 1;
      for (const r of read.records) {
        texts.push(r.text);
        offsets.push(r.offset);
      }
      if (read.eof) break;
    }
    const end = tailer.position()?.offset;
    await tailer.close();
    expect(texts).toEqual(lines);
    let at = 0;
    expect(offsets).toEqual(lines.map((l) => ((at += l.length + 1), at - l.length - 1)));
    // Reads grow with the record being joined (4 KiB, 4 KiB, 8 KiB, …): ~7 reads per 300 kB record, not ~75.
    expect(polls).toBeLessThan(30);
    expect(end).toBe(at);
  });

  it('keeps a record still being written intact across empty reads, with its two read buffers used in turn', async () => {
    // Four records of exactly 2 KiB fill two 4 KiB chunks; the fifth, half written, starts a chunk of its own, so the
    // splitter holds a view of that read buffer (1.5 KiB: not copied out) while the tailer polls the end of the file.
    const file = join(dir, 'postgresql-2.json');
    const record = (i: number, size: number) => `{"n":${i},"m":"${'x'.repeat(size - 14)}"}`;
    const lines = [0, 1, 2, 3].map((i) => record(i, 2047));
    const last = record(4, 3000);
    writeFileSync(file, `${lines.join('\n')}\n${last.slice(0, 1500)}`);
    const tailer = new LogTailer({
      format: 'jsonlog',
      logDirectory: dir,
      pattern: '^postgresql-2\\.json$',
      chunkBytes: 4096,
    });
    await tailer.start(undefined, 'beginning');
    const texts: string[] = [];
    const drain = async () => {
      for (let read = await tailer.poll(); ; read = await tailer.poll()) {
        texts.push(...read.records.map((r) => r.text));
        if (read.eof) return;
      }
    };
    await drain(); // ends with an empty read at the end of the file
    expect(texts).toEqual(lines);
    writeFileSync(file, `${lines.join('\n')}\n${last}\n${lines[0]}\n`);
    await drain();
    await tailer.close();
    expect(texts).toEqual([...lines, last, lines[0]]);
  });

  /** Reads until the end of the log: the texts read. */
  async function drainAll(tailer: LogTailer): Promise<string[]> {
    const texts: string[] = [];
    for (let read = await tailer.poll(); ; read = await tailer.poll()) {
      texts.push(...read.records.map((r) => r.text));
      if (read.eof) return texts;
    }
  }

  it('follows a rotation by renaming: the same path naming a new file (device and inode) is the next file', async () => {
    // A fixed log file name rotated by renaming (logrotate): current_logfiles keeps naming the same path.
    const pgData = mkdtempSync(join(dir, 'pgdata-'));
    mkdirSync(join(pgData, 'log'));
    const path = join(pgData, 'log', 'postgresql.json');
    writeFileSync(join(pgData, 'current_logfiles'), 'jsonlog log/postgresql.json\n');
    writeFileSync(path, '{"n":1}\n{"n":2}\n');
    const rotations: string[] = [];
    const tailer = new LogTailer({
      format: 'jsonlog',
      pgData,
      pattern: '^postgresql\\.json$',
      onRotate: (from, to) => rotations.push(`${from} -> ${to}`),
    });
    await tailer.start(undefined, 'beginning');
    expect(await drainAll(tailer)).toEqual(['{"n":1}', '{"n":2}']);
    renameSync(path, `${path}.1`);
    writeFileSync(path, '{"n":3}\n');
    expect(await drainAll(tailer)).toEqual(['{"n":3}']);
    expect(rotations).toEqual([`${path} -> ${path}`]);
    await tailer.close();
  });

  it('refuses symbolic links in the log directory', async () => {
    const logs = mkdtempSync(join(dir, 'links-'));
    writeFileSync(join(dir, 'secret.txt'), '{"stolen":true}\n');
    writeFileSync(join(logs, 'postgresql-1.json'), '{"n":1}\n');
    symlinkSync(join(dir, 'secret.txt'), join(logs, 'postgresql-2.json'));
    const refused: string[] = [];
    const tailer = new LogTailer({ format: 'jsonlog', logDirectory: logs, onSymlink: (p) => refused.push(p) });
    await tailer.start(undefined, 'beginning');
    expect(await drainAll(tailer)).toEqual(['{"n":1}']);
    await tailer.close();
    expect(refused).toContain(join(logs, 'postgresql-2.json'));
  });
});
