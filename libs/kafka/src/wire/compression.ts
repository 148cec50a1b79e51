// Record batch compression with Node's own zlib: gzip everywhere, zstd where the runtime has it (zlib.zstdCompress,
// Node >= 22.15 / 23.8). Snappy and lz4 would need a native or WebAssembly dependency for no gain here.
import * as zlib from 'node:zlib';
import { promisify } from 'node:util';
import { CODEC } from './protocol.js';

/** The codecs a producer may be configured with. */
export type CompressionName = 'none' | 'gzip' | 'zstd';

type Compress = (input: Buffer) => Promise<Buffer>;

const zstdCompress = (
  zlib as unknown as { zstdCompress?: (b: Buffer, o: object, cb: (e: Error | null, r: Buffer) => void) => void }
).zstdCompress;

/** Whether this Node runtime can compress with zstd. */
export const ZSTD_AVAILABLE = typeof zstdCompress === 'function';

const gzip = promisify(zlib.gzip) as (input: Buffer, options: zlib.ZlibOptions) => Promise<Buffer>;
const zstd = ZSTD_AVAILABLE
  ? (promisify(zstdCompress!) as (input: Buffer, options: object) => Promise<Buffer>)
  : undefined;

/**
 * The compressor for a codec name and its codec id in the batch attributes; `undefined` for `none`. The work runs on
 * libuv's thread pool (zlib's async functions), off the event loop that parses the log. Levels are Kafka's defaults:
 * gzip 6 (zlib's default), zstd 3.
 */
export function compressor(name: CompressionName): { codec: number; compress: Compress } | undefined {
  switch (name) {
    case 'none':
      return undefined;
    case 'gzip':
      return { codec: CODEC.gzip, compress: (input) => gzip(input, {}) };
    case 'zstd':
      if (!zstd) throw new Error(`zstd compression needs Node >= 22.15 (this is Node ${process.versions.node})`);
      return { codec: CODEC.zstd, compress: (input) => zstd(input, {}) };
  }
}

/** The inverse of {@link compressor}, for tests and the fake broker. */
export function decompress(codec: number, input: Buffer): Buffer {
  if (codec === CODEC.none) return input;
  if (codec === CODEC.gzip) return zlib.gunzipSync(input);
  const sync = (zlib as unknown as { zstdDecompressSync?: (b: Buffer) => Buffer }).zstdDecompressSync;
  if (codec === CODEC.zstd && sync) return sync(input);
  throw new Error(`codec ${codec} not supported here`);
}
