import { open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { VigieError } from '@vigie/errors';
import type { LogPosition } from './source-tail.js';
import { PGLOG_ERRORS } from './errors.js';

/** What is saved: where to resume, and the sessions that had changed role (SET ROLE) by then. */
export interface Checkpoint {
  version: 1;
  position: LogPosition;
  roles: Record<string, string>;
  savedAt: string;
}

/** Reads the checkpoint; undefined when there is none yet. A corrupt file is an error (never silently restart). */
export async function readCheckpoint(file: string): Promise<Checkpoint | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new VigieError(PGLOG_ERRORS.CHECKPOINT_READ, `cannot read checkpoint ${file}`, { cause: error });
  }
  try {
    const c = JSON.parse(text) as Checkpoint;
    const p = c.position;
    if (c.version !== 1 || typeof p?.file !== 'string' || !Number.isInteger(p.offset) || !Number.isInteger(p.ino)) {
      throw new Error('unexpected shape');
    }
    return { ...c, roles: c.roles ?? {} };
  } catch (cause) {
    throw new VigieError(
      PGLOG_ERRORS.CHECKPOINT_CORRUPT,
      `checkpoint ${file} is not valid; move it away to start from source.startAt (events may be re-sent or skipped)`,
      { cause },
    );
  }
}

/**
 * Writes the checkpoint atomically: temp file, fsync, rename, fsync of the directory. A crash leaves either the old
 * or the new checkpoint, never a torn one.
 */
export async function writeCheckpoint(file: string, checkpoint: Checkpoint): Promise<void> {
  // Callers serialise their writes (app.ts): two writers sharing this temp file could rename a half-written one.
  const tmp = `${file}.tmp`;
  try {
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(JSON.stringify(checkpoint));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
    const dir = await open(dirname(file), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch (cause) {
    throw new VigieError(PGLOG_ERRORS.CHECKPOINT_WRITE, `cannot write checkpoint ${file}`, { retriable: true, cause });
  }
}

/** The checkpoint as the collector keeps it: moved by the outbox's acknowledged watermark, saved on a timer. */
export interface Checkpointer {
  /** The outbox acknowledged everything before `position`: the next save may write it. */
  acknowledged(position: LogPosition | undefined): void;
  /** Writes the acknowledged position if it moved since the last write (one write at a time). */
  save(): Promise<void>;
  /** The last acknowledged position. */
  readonly position: LogPosition | undefined;
  /** Milliseconds since the acknowledged position last moved. */
  sinceAdvanceMs(now?: number): number;
}

const samePosition = (a: LogPosition | undefined, b: LogPosition | undefined) =>
  a?.file === b?.file && a?.offset === b?.offset && a?.ino === b?.ino;

/**
 * The collector's checkpoint: the outbox reports each acknowledged watermark (every event before it is in Kafka
 * or dead-lettered) and the timer saves the last one with the role snapshot `roles()` returns at that moment.
 */
export function createCheckpointer(file: string, roles: () => Record<string, string>): Checkpointer {
  let acked: LogPosition | undefined;
  let saved: LogPosition | undefined;
  let lastAdvance = Date.now();
  // One write at a time: the interval does not wait for a slow fsync, and two writers sharing the temp file could
  // rename a half-written one into place (seen as a corrupt checkpoint after a SIGKILL).
  let saving: Promise<void> | undefined;

  async function writeAcked(): Promise<void> {
    const position = acked;
    if (position === undefined || samePosition(position, saved)) return;
    await writeCheckpoint(file, { version: 1, position, roles: roles(), savedAt: new Date().toISOString() });
    saved = position;
  }

  return {
    acknowledged(position) {
      if (position === undefined || samePosition(position, acked)) return;
      acked = position;
      lastAdvance = Date.now();
    },
    async save() {
      while (saving) await saving.catch(() => undefined);
      saving = writeAcked();
      try {
        await saving;
      } finally {
        saving = undefined;
      }
    },
    get position() {
      return acked;
    },
    sinceAdvanceMs: (now = Date.now()) => now - lastAdvance,
  };
}
