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
