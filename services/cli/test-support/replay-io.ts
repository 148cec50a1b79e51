import type { ReplayIo } from '../src/replay/replay.js';

/** Test helper: a `ReplayIo` that keeps what `vigie replay` prints and the exit code it asks for. */
export function captureReplayIo(): ReplayIo & { out: string; err: string; code: number | undefined } {
  const r = {
    out: '',
    err: '',
    code: undefined as number | undefined,
    stdout: (t: string) => void (r.out += t),
    stderr: (t: string) => void (r.err += t),
    exit: (c: number) => void (r.code = c),
  };
  return r;
}
