import { lstat, readFile, readdir } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import type { LogFormat } from '@vigie/pglog';

/** A log file and its identity: (dev, ino) survives a rename; a new inode under the same name is another file. */
export interface LogFile {
  path: string;
  name: string;
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
}

/** Where to find the log files. */
export interface LogLocation {
  format: LogFormat;
  pgData?: string | undefined;
  logDirectory?: string | undefined;
  pattern?: string | undefined;
}

/** Default file-name pattern for a format (PostgreSQL's default log_filename plus the format's extension). */
export function defaultPattern(format: LogFormat): RegExp {
  return format === 'csvlog' ? /^postgresql-.*\.csv$/ : /^postgresql-.*\.json$/;
}

/** The file the server writes now, from `$PGDATA/current_logfiles` (undefined when absent or not listed). */
export async function currentLogFile(pgData: string, format: LogFormat): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(join(pgData, 'current_logfiles'), 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    if (line.startsWith(`${format} `)) {
      const rel = line.slice(format.length + 1).trim();
      return isAbsolute(rel) ? rel : join(pgData, rel);
    }
  }
  return undefined;
}

/** The directory holding the logs: configured, or the directory of the current file. */
export async function logDirectoryOf(loc: LogLocation): Promise<string | undefined> {
  if (loc.logDirectory !== undefined) {
    return isAbsolute(loc.logDirectory) || loc.pgData === undefined
      ? loc.logDirectory
      : join(loc.pgData, loc.logDirectory);
  }
  if (loc.pgData === undefined) return undefined;
  const current = await currentLogFile(loc.pgData, loc.format);
  return current === undefined ? join(loc.pgData, 'log') : dirname(current);
}

/** Orders log files as the server wrote them: by name (timestamped names sort in time), then modification time. */
export function compareLogFiles(a: Pick<LogFile, 'name' | 'mtimeMs'>, b: Pick<LogFile, 'name' | 'mtimeMs'>): number {
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  return a.mtimeMs - b.mtimeMs;
}

/**
 * Log files of one format in the directory, oldest first. Symbolic links are refused (reported through `onSymlink`):
 * a link in the log directory would let whoever can write there make the collector read any file as a log.
 */
export async function listLogFiles(
  dir: string,
  pattern: RegExp,
  onSymlink?: (path: string) => void,
): Promise<LogFile[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const files: LogFile[] = [];
  for (const name of names) {
    if (!pattern.test(name)) continue;
    const path = join(dir, name);
    try {
      const s = await lstat(path);
      if (s.isSymbolicLink()) onSymlink?.(path);
      else if (s.isFile()) files.push({ path, name, dev: s.dev, ino: s.ino, size: s.size, mtimeMs: s.mtimeMs });
    } catch {
      // Deleted between readdir and stat (log cleanup): not ours to read any more.
    }
  }
  return files.sort(compareLogFiles);
}
