import { Socket } from 'node:net';
import { VigieError } from '@vigie/runtime';
import { Reader, Writer } from './codec.js';
import { writeRequestHeader } from './protocol.js';

/** Largest request buffer a connection keeps for the next request. */
const MAX_SCRATCH = 2 << 20;

interface Pending {
  resolve: (body: Buffer) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export interface ConnectionOptions {
  host: string;
  port: number;
  clientId: string;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
}

/**
 * One TCP connection to one broker: size-prefixed frames, requests pipelined and matched to responses by
 * correlation id. Any socket error, a malformed frame or a request timeout closes the connection and fails every
 * request waiting on it with a retriable VIGIE_KAFKA_CONNECTION error (the producer reconnects).
 */
export class BrokerConnection {
  private socket: Socket | undefined;
  private readonly pending = new Map<number, Pending>();
  private correlationId = 0;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private failure: Error | undefined;
  private scratch: Buffer = Buffer.allocUnsafe(64 << 10);
  private scratchBusy = false;

  constructor(private readonly options: ConnectionOptions) {}

  get address(): string {
    return `${this.options.host}:${this.options.port}`;
  }

  get closed(): boolean {
    return this.failure !== undefined;
  }

  connect(): Promise<void> {
    const { host, port, connectTimeoutMs } = this.options;
    return new Promise((resolve, reject) => {
      const socket = new Socket();
      this.socket = socket;
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        this.fail(this.error(`no connection within ${connectTimeoutMs} ms`));
      }, connectTimeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.on('data', (chunk: Buffer) => this.receive(chunk));
      socket.on('error', (error) => this.fail(this.error(error.message, error)));
      socket.on('close', () => {
        clearTimeout(timer);
        this.fail(this.error('connection closed by the broker'));
        reject(this.failure);
      });
      socket.connect({ host, port });
    });
  }

  /**
   * Sends one request; resolves with the response body (after the correlation id). `writeBody` writes into the
   * frame's buffer directly (a produce request is encoded once, without copies).
   */
  request(api: { key: number; version: number }, writeBody: (w: Writer) => void, capacity = 256): Promise<Reader> {
    if (this.failure || !this.socket) return Promise.reject(this.failure ?? this.error('not connected'));
    const id = (this.correlationId = (this.correlationId + 1) & 0x7fffffff);
    // One request at a time writes into the connection's scratch buffer, kept from request to request: a response
    // means the broker read the whole frame, so the buffer is free again. A new ~250 KB Buffer per produce request
    // was external memory churn that made V8 collect (and promote) more often.
    const scratch = this.scratchBusy ? undefined : this.scratch;
    const w = new Writer(capacity, scratch);
    if (scratch) this.scratchBusy = true;
    w.int32(0);
    writeRequestHeader(w, api, id, this.options.clientId);
    writeBody(w);
    const frame = w.finish();
    frame.writeInt32BE(frame.length - 4, 0);
    const release = () => {
      if (!scratch) return;
      this.scratchBusy = false;
      if (w.buf.length <= MAX_SCRATCH) this.scratch = w.buf; // it grew: keep the larger one
    };
    return new Promise<Reader>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(this.error(`no response to api ${api.key} within ${this.options.requestTimeoutMs} ms`));
      }, this.options.requestTimeoutMs);
      this.pending.set(id, {
        resolve: (body) => {
          release();
          resolve(new Reader(body));
        },
        // A failure destroys the socket first: nothing reads the buffer any more.
        reject: (error) => {
          release();
          reject(error);
        },
        timer,
      });
      this.socket!.write(frame);
    });
  }

  close(): void {
    this.fail(this.error('connection closed by the client'));
  }

  private error(message: string, cause?: unknown): VigieError {
    return new VigieError('VIGIE_KAFKA_CONNECTION', `kafka broker ${this.address}: ${message}`, {
      retriable: true,
      cause,
    });
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    this.socket?.destroy();
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(error);
    }
    this.pending.clear();
    this.chunks = [];
  }

  private receive(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.buffered < 4) return;
      let head = this.chunks[0]!;
      if (head.length < 4) {
        head = Buffer.concat(this.chunks);
        this.chunks = [head];
      }
      const size = head.readInt32BE(0);
      if (size < 4) {
        this.fail(this.error(`malformed response frame (size ${size})`));
        return;
      }
      if (this.buffered < 4 + size) return;
      if (head.length < 4 + size) {
        head = Buffer.concat(this.chunks);
        this.chunks = [head];
      }
      const frame = head.subarray(4, 4 + size);
      const rest = head.subarray(4 + size);
      this.chunks.shift();
      if (rest.length > 0) this.chunks.unshift(rest);
      this.buffered -= 4 + size;
      const id = frame.readInt32BE(0);
      const p = this.pending.get(id);
      if (!p) {
        this.fail(this.error(`response to unknown correlation id ${id}`));
        return;
      }
      this.pending.delete(id);
      clearTimeout(p.timer);
      p.resolve(frame.subarray(4));
    }
  }
}
