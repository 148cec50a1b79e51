import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { VigieError } from '@vigie/errors';
import { describe, expect, it } from 'vitest';
import type { RawRecord } from './log-record.js';
import { formatOfContent, formatOfLogName, readLogRecords } from './read-log-file.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/pglog/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'vigie-read-log-'));

function write(name: string, data: Buffer): string {
  const file = join(dir, name);
  writeFileSync(file, data);
  return file;
}

async function read(file: string, onRead?: (n: number) => void): Promise<RawRecord[]> {
  const out: RawRecord[] = [];
  // Small chunks: records and gzip output cross chunk boundaries many times.
  for await (const r of readLogRecords(file, { chunkBytes: 4096, ...(onRead ? { onRead } : {}) })) out.push(r);
  return out;
}

const strip = (records: RawRecord[]) => records.map((r) => ({ ...r, file: '' }));

describe('readLogRecords', () => {
  it('says the format a name says, through .gz and rotation numbers', () => {
    expect(
      ['a.csv', 'a.csv.gz', 'postgresql.csv.1', 'postgresql.csv.1.gz', 'a.json', 'a.json.gz', 'a.log', 'a.gz'].map(
        formatOfLogName,
      ),
    ).toEqual(['csvlog', 'csvlog', 'csvlog', 'csvlog', 'jsonlog', 'jsonlog', undefined, undefined]);
    expect([0x7b, 0x32, undefined].map(formatOfContent)).toEqual(['jsonlog', 'csvlog', 'csvlog']);
  });

  it.each(['cases.json', 'cases.csv'])(
    'reads a gzip-compressed %s to the same records as the plain file, at the same offsets',
    async (name) => {
      const text = readFileSync(join(FIXTURES, name));
      const plain = await read(write(name, text));
      let stored = 0;
      const gz = gzipSync(text);
      const zipped = await read(write(`${name}.gz`, gz), (n) => (stored += n));
      expect(plain.length).toBeGreaterThan(300);
      expect(strip(zipped)).toEqual(strip(plain));
      // Progress counts the bytes as stored: the compressed size, not the text's.
      expect(stored).toBe(gz.length);
    },
  );

  it('recognises gzip by its magic bytes and the format by the first byte when the name says nothing', async () => {
    const csv = readFileSync(join(FIXTURES, 'cases.csv'));
    const plain = await read(write('named.csv', csv));
    // A csvlog compressed under a name that says neither gzip nor csv: read as csvlog, decompressed.
    const records = await read(write('postgresql-archive.log', gzipSync(csv)));
    expect(strip(records)).toEqual(strip(plain));
    expect(records[0]?.format).toBe('csvlog');
  });

  it('reads every member of a multi-member gzip file (cat a.gz b.gz)', async () => {
    const lines = readFileSync(join(FIXTURES, 'cases.json'), 'utf8').split('\n');
    const half = lines.slice(0, 100).join('\n') + '\n';
    const rest = lines.slice(100).join('\n');
    const joined = await read(write('two.json.gz', Buffer.concat([gzipSync(half), gzipSync(rest)])));
    const plain = await read(write('one.json', Buffer.from(half + rest)));
    expect(strip(joined)).toEqual(strip(plain));
  });

  it.each([
    [
      'truncated',
      (gz: Buffer) => gz.subarray(0, 9000),
      /near compressed byte offset \d+ \(between \d+ and 9000\): unexpected end of file/,
    ],
    [
      'with a bad checksum',
      (gz: Buffer) => {
        const bad = Buffer.from(gz);
        bad[bad.length - 6] = (bad[bad.length - 6] as number) ^ 0xff; // inside the CRC-32 trailer
        return bad;
      },
      /near compressed byte offset \d+ \(between \d+ and \d+\): incorrect data check/,
    ],
  ])(
    'stops on a gzip file %s with VIGIE_PGLOG_GZIP_CORRUPT naming the file and the offset',
    async (_what, damage, message) => {
      const gz = gzipSync(readFileSync(join(FIXTURES, 'cases.csv')));
      const file = write('damaged.csv.gz', damage(gz));
      const error = await read(file).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(VigieError);
      expect((error as VigieError).code).toBe('VIGIE_PGLOG_GZIP_CORRUPT');
      expect((error as VigieError).message).toContain(`corrupt gzip data in ${file}`);
      expect((error as VigieError).message).toMatch(message);
    },
  );

  it('refuses to start a gzip file anywhere but at its start', async () => {
    const file = write('offset.json.gz', gzipSync(readFileSync(join(FIXTURES, 'cases.json'))));
    const gen = readLogRecords(file, { fromOffset: 100 });
    await expect(gen.next()).rejects.toMatchObject({ code: 'VIGIE_PGLOG_GZIP_OFFSET' });
  });
});
