import { Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions as TlsOptions, type TLSSocket } from 'node:tls';
import { VigieError } from '@vigie/errors';
import { Reader, Writer } from './codec.js';
import { writeRequestHeader } from './protocol.js';
import { KAFKA_ERRORS } from '../errors.js';

/** Largest request buffer a connection keeps for the next request. */
const MAX_SCRATCH = 2 << 20;

/**
 * Largest response frame a connection accepts by default. The producer's answers are small (a produce answer is a
 * few bytes per partition, metadata a few KB for the topics it asks about); a bigger size prefix is a hostile or
 * confused peer — a TLS listener answering a plain client starts with an alert record, read as a 352 MB frame — and
 * buffering it would hold that much memory.
 */
export const DEFAULT_MAX_RESPONSE_BYTES = 8 << 20;

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
  /** TLS (`node:tls` options: CA, client certificate and key, server name check); absent: plain TCP. */
  tls?: TlsOptions | undefined;
  /** Response frames above this size close the connection (VIGIE_KAFKA_FRAME_TOO_LARGE). */
  maxResponseBytes?: number;
}

/**
 * Certificate verification failures OpenSSL reports (X509_V_ERR_* names as Node gives them in `error.code`): the
 * peer is not who the configuration trusts, and retrying will not change that.
 */
const CERTIFICATE_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
]);

/** Whether a socket error is a TLS failure (certificate, name, protocol) rather than a network one. */
export function isTlsError(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string') return false;
  return CERTIFICATE_CODES.has(code) || code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_');
}

/**
 * One TCP (or TLS) connection to one broker: size-prefixed frames, requests pipelined and matched to responses by
 * correlation id. A socket error, a malformed frame or a request timeout closes the connection and fails every
 * request waiting on it with a retriable VIGIE_KAFKA_CONNECTION error (the producer reconnects); a TLS failure
 * (untrusted or misnamed certificate) with a non-retriable VIGIE_KAFKA_TLS error; an oversized frame with a
 * non-retriable VIGIE_KAFKA_FRAME_TOO_LARGE error.
 */
export class BrokerConnection {
  private socket: Socket | TLSSocket | undefined;
  private readonly pending = new Map<number, Pending>();
  private correlationId = 0;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private failure: Error | undefined;
  private retiring = false;
  private retireTimer: NodeJS.Timeout | undefined;
  private throttledUntil = 0;
  private scratch: Buffer = Buffer.allocUnsafe(64 << 10);
  private scratchBusy = false;

  constructor(private readonly options: ConnectionOptions) {}

  get address(): string {
    return `${this.options.host}:${this.options.port}`;
  }

  /** Closed, failed, or retiring (its SASL session is about to expire): callers must open another. */
  get closed(): boolean {
    return this.failure !== undefined || this.retiring;
  }

  /** Requests sent and not answered yet. */
  get inFlight(): number {
    return this.pending.size;
  }

  connect(): Promise<void> {
    const { host, port, connectTimeoutMs, tls } = this.options;
    return new Promise((resolve, reject) => {
      const socket = tls ? tlsConnect({ ...tls, host, port }) : new Socket().connect({ host, port });
      this.socket = socket;
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        this.fail(this.error(`no connection within ${connectTimeoutMs} ms`));
      }, connectTimeoutMs);
      // A TLS socket is usable once the handshake verified the broker's certificate (and name).
      socket.once(tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.on('data', (chunk: Buffer) => this.receive(chunk));
      socket.on('error', (error) => this.fail(this.socketError(error)));
      socket.on('close', () => {
        clearTimeout(timer);
        this.fail(this.error('connection closed by the broker'));
        reject(this.failure);
      });
    });
  }

  /**
   * Sends one request; resolves with the response body (after the correlation id). `writeBody` writes into the
   * frame's buffer directly (a produce request is encoded once, without copies). While the broker throttles this
   * client ({@link throttle}) the request waits before it is written.
   */
  async request(
    api: { key: number; version: number },
    writeBody: (w: Writer) => void,
    capacity = 256,
  ): Promise<Reader> {
    const wait = this.throttledUntil - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    return this.send(api, writeBody, capacity);
  }

  /**
   * The broker said it throttled this client for `ms` (a quota, KIP-219): it answers at once and mutes the channel,
   * and a client that keeps sending only makes the broker wait longer. Later requests wait until then.
   */
  throttle(ms: number): void {
    if (ms > 0) this.throttledUntil = Math.max(this.throttledUntil, Date.now() + ms);
  }

  /**
   * The SASL session ends after `ms` (the broker's `connections.max.reauth.ms`): the connection stops taking new
   * requests a little before that and closes once its last answer arrived; the next caller opens a new one.
   */
  expireAfter(ms: number): void {
    if (ms <= 0) return;
    clearTimeout(this.retireTimer);
    this.retireTimer = setTimeout(() => this.retire(), Math.max(0, ms * 0.85));
    this.retireTimer.unref();
  }

  /** Takes no new requests; closes when the last one in flight is answered (at once when none is). */
  retire(): void {
    this.retiring = true;
    if (this.pending.size === 0) this.close();
  }

  private send(
    api: { key: number; version: number },
    writeBody: (w: Writer) => void,
    capacity: number,
  ): Promise<Reader> {
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
    return new VigieError(KAFKA_ERRORS.CONNECTION, `kafka broker ${this.address}: ${message}`, {
      retriable: true,
      cause,
    });
  }

  private socketError(error: Error): VigieError {
    if (!isTlsError(error)) return this.error(error.message, error);
    const code = (error as { code?: string }).code;
    return new VigieError(
      KAFKA_ERRORS.TLS,
      `kafka broker ${this.address}: TLS: ${code}: ${error.message} — is the broker's certificate signed by a CA in ` +
        'kafka.ssl.caFile, and does it name the address in kafka.brokers (or kafka.ssl.serverName)?',
      { retriable: false, cause: error },
    );
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    clearTimeout(this.retireTimer);
    this.socket?.destroy();
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(error);
    }
    this.pending.clear();
    this.chunks = [];
    this.buffered = 0;
  }

  private receive(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const max = this.options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
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
      if (size > max) {
        // Refused before buffering it: a size prefix alone must not make this process hold that much memory.
        this.fail(
          new VigieError(
            KAFKA_ERRORS.FRAME_TOO_LARGE,
            `kafka broker ${this.address}: a response frame of ${size} bytes exceeds the ${max}-byte cap — is this a ` +
              'Kafka listener of the configured security protocol (kafka.ssl on a TLS listener, off on a plain one)?',
            { retriable: false },
          ),
        );
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
      if (this.retiring && this.pending.size === 0) this.close();
    }
  }
}
