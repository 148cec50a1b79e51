import { execFile } from 'node:child_process';
import { VigieError } from '@vigie/errors';
import { parseSsLine, type SsRejectReason, type SsSocket } from './parse-ss.js';
import { EGRESS_ERRORS } from './errors.js';

/** One sample of the established server sockets. */
export interface SocketSample {
  sockets: SsSocket[];
  rejected: SsRejectReason[];
}

/** Options of {@link sampleSockets}. */
export interface SampleOptions {
  ssCommand: string;
  serverPort: number;
  timeoutMs: number;
}

/** Runs a command and returns its standard output; failures keep their cause. */
export function run(command: string, args: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      [...args],
      // A server with thousands of connections prints ~600 bytes each: leave room.
      { timeout: timeoutMs, maxBuffer: 64 << 20, encoding: 'utf8', killSignal: 'SIGKILL' },
      (error, stdout) => (error ? reject(error) : resolve(stdout)),
    );
  });
}

/** Splits `ss` output into parsed sockets and rejected lines. */
export function parseSsOutput(text: string): SocketSample {
  const sockets: SsSocket[] = [];
  const rejected: SsRejectReason[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const parsed = parseSsLine(line);
    if (parsed.ok) sockets.push(parsed.socket);
    else rejected.push(parsed.reason);
  }
  return { sockets, rejected };
}

/**
 * Reads the kernel's counters of every established socket whose local port is the server's:
 * `ss -tinHO state established '( sport = :<port> )'` (the filter runs in the kernel, so other sockets cost
 * nothing). No `-p`: sockets are joined to sessions by client end, and naming owners would walk every process's
 * file descriptors at each sample. Throws VIGIE_EGRESS_SS_FAILED (retriable) when `ss` fails or times out.
 */
export async function sampleSockets({ ssCommand, serverPort, timeoutMs }: SampleOptions): Promise<SocketSample> {
  let text: string;
  try {
    text = await run(ssCommand, ['-tinHO', 'state', 'established', `( sport = :${serverPort} )`], timeoutMs);
  } catch (cause) {
    throw new VigieError(EGRESS_ERRORS.SS_FAILED, `\`${ssCommand}\` sampling failed`, { retriable: true, cause });
  }
  return parseSsOutput(text);
}
