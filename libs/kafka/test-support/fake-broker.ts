// A scripted in-process Kafka cluster speaking the wire protocol the producer speaks, for unit tests: the producer's
// retry, sequence and failover logic meets the situations a real cluster produces only by chance (a leader moving
// between a request and its answer, a connection reset after the broker appended, a broker that forgot the producer).
// The model follows the broker's: a log per partition, per-producer state with the last five batches for duplicate
// detection (ProducerStateManager), leaders that refuse partitions they do not lead, record batches checked by CRC.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TlsOptions } from 'node:tls';
import { Reader, Writer, readVarint } from '../src/wire/codec.js';
import { decompress } from '../src/wire/compression.js';
import { crc32c } from '../src/wire/hash.js';

/** The fixture certificates: a test CA, a broker certificate for 127.0.0.1/localhost, a client one, another CA. */
export function tlsFixture(name: 'ca' | 'other-ca' | 'broker' | 'client', part: 'pem' | 'key' = 'pem'): string {
  return readFileSync(new URL(`./tls/${name}.${part}`, import.meta.url), 'utf8');
}

/** One record as the fake log holds it. */
export interface LoggedRecord {
  key: string;
  value: string;
  offset: number;
  producerId: bigint;
  sequence: number;
}

/** What the script sees of one request. */
export interface RequestInfo {
  node: number;
  apiKey: number;
  /** Produce only: the partitions in the request with their base sequences and record counts. */
  batches?: { topic: string; partition: number; baseSequence: number; count: number; producerId: bigint }[];
  /** Number of this request among all requests of this api key (from 0). */
  nth: number;
}

/**
 * What the broker does with one request:
 * - `normal` (or undefined): handle it;
 * - `error`: answer every partition of a Produce (or an InitProducerId) with `code`, append nothing;
 * - `append-then-reset`: append the batches, then close the connection without answering;
 * - `reset`: close the connection without reading it further;
 * - `append-then-hang`: append, never answer (the client times out);
 * - `throttle`: handle it and tell the client it is throttled for `ms`;
 * - `huge-frame`: answer with a size prefix of 1 GB (a hostile or confused peer).
 */
export type Action =
  | { kind: 'normal' }
  | { kind: 'error'; code: number }
  | { kind: 'append-then-reset' }
  | { kind: 'reset' }
  | { kind: 'append-then-hang' }
  | { kind: 'throttle'; ms: number }
  | { kind: 'huge-frame' };

interface ProducerEntry {
  epoch: number;
  /** The last five batches: first and last sequence, base offset. */
  batches: { first: number; last: number; offset: number }[];
}

interface Partition {
  leader: number;
  log: LoggedRecord[];
  producers: Map<bigint, ProducerEntry>;
}

export interface FakeClusterOptions {
  nodes?: number;
  topics?: Record<string, { partitions: number; maxMessageBytes?: number; denied?: boolean }>;
  script?: (request: RequestInfo) => Action | undefined;
  /** SASL users (username → password) and mechanisms; absent: no authentication. */
  sasl?: { users: Record<string, string>; mechanisms?: string[] };
  /** TLS server options (fixture certificates); absent: plain TCP. */
  tls?: TlsOptions;
}

/** A fake cluster of `nodes` brokers on loopback ports. */
export interface FakeCluster {
  readonly brokers: string[];
  partition(topic: string, p: number): Partition;
  /** Every record of a topic, by partition. */
  records(topic: string): LoggedRecord[][];
  moveLeader(topic: string, partition: number, node: number): void;
  /** Every partition forgets every producer (state lost: retention, unclean election). */
  forgetProducers(): void;
  /** Stops listing `node` in metadata (a broker that left). */
  removeNode(node: number): void;
  /** Open client connections per node. */
  openConnections(node: number): number;
  /** Requests seen, by api key. */
  requests(apiKey: number): RequestInfo[];
  /** Times each Produce request arrived (ms), in order. */
  produceTimes(): number[];
  readonly authAttempts: number;
  close(): Promise<void>;
}

const API_VERSIONS: [number, number, number][] = [
  [0, 3, 11],
  [3, 0, 12],
  [17, 0, 1],
  [18, 0, 4],
  [22, 0, 5],
  [36, 0, 2],
];

/** Starts a fake cluster. */
export async function startFakeCluster(options: FakeClusterOptions = {}): Promise<FakeCluster> {
  const nodeCount = options.nodes ?? 1;
  const partitions = new Map<string, Partition[]>();
  const limits = new Map<string, number>();
  const denied = new Set<string>();
  for (const [topic, spec] of Object.entries(options.topics ?? { t: { partitions: 1 } })) {
    partitions.set(
      topic,
      Array.from({ length: spec.partitions }, (_, i) => ({
        leader: (i % nodeCount) + 1,
        log: [],
        producers: new Map(),
      })),
    );
    if (spec.maxMessageBytes !== undefined) limits.set(topic, spec.maxMessageBytes);
    if (spec.denied) denied.add(topic);
  }
  const servers: Server[] = [];
  const ports: number[] = [];
  const sockets = new Map<number, Set<Socket>>();
  const removed = new Set<number>();
  const seen = new Map<number, RequestInfo[]>();
  const produceTimes: number[] = [];
  let nextProducerId = 1000n;
  let authAttempts = 0;

  const partitionOf = (topic: string, p: number) => {
    const part = partitions.get(topic)?.[p];
    if (!part) throw new Error(`no partition ${topic}/${p}`);
    return part;
  };

  /** Appends a batch under the broker's idempotence rules; returns [error code, base offset]. */
  const append = (
    topic: string,
    part: Partition,
    batch: { producerId: bigint; epoch: number; baseSequence: number; records: { key: string; value: string }[] },
    bytes: number,
  ): [number, number] => {
    if (denied.has(topic)) return [29, -1];
    const limit = limits.get(topic);
    if (limit !== undefined && bytes > limit) return [10, -1];
    const count = batch.records.length;
    const first = batch.baseSequence;
    const last = first + count - 1;
    let entry = part.producers.get(batch.producerId);
    if (!entry) {
      // A producer this partition does not know: it may only start a sequence (or it lost its state).
      if (first !== 0) return [59, -1];
      entry = { epoch: batch.epoch, batches: [] };
      part.producers.set(batch.producerId, entry);
    }
    if (batch.epoch < entry.epoch) return [47, -1];
    const dup = entry.batches.find((b) => b.first === first && b.last === last);
    if (dup) return [0, dup.offset];
    const expected = entry.batches.length === 0 ? 0 : entry.batches[entry.batches.length - 1]!.last + 1;
    if (first !== expected) return [45, -1];
    const offset = part.log.length;
    batch.records.forEach((r, i) =>
      part.log.push({ ...r, offset: offset + i, producerId: batch.producerId, sequence: first + i }),
    );
    entry.batches.push({ first, last, offset });
    if (entry.batches.length > 5) entry.batches.shift();
    return [0, offset];
  };

  const serve = (node: number) => (socket: Socket) => {
    let set = sockets.get(node);
    if (!set) sockets.set(node, (set = new Set()));
    set.add(socket);
    socket.on('close', () => set.delete(socket));
    socket.on('error', () => undefined);
    let buffered = Buffer.alloc(0);
    let authenticated = !options.sasl;
    let scramState: { mechanism: string; user: string; clientFirstBare: string; serverFirst: string } | undefined;
    let mechanism = '';
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
        const size = buffered.readInt32BE(0);
        const frame = buffered.subarray(4, 4 + size);
        buffered = buffered.subarray(4 + size);
        if (!handle(frame)) return;
      }
    });

    const respond = (correlationId: number, body: (w: Writer) => void) => {
      const w = new Writer();
      w.int32(0).int32(correlationId);
      body(w);
      const out = w.finish();
      out.writeInt32BE(out.length - 4, 0);
      socket.write(out);
    };

    /** Returns false when the connection was closed. */
    const handle = (frame: Buffer): boolean => {
      const r = new Reader(frame);
      const apiKey = r.int16();
      r.int16(); // version
      const correlationId = r.int32();
      r.string(); // client id
      const list = seen.get(apiKey) ?? [];
      seen.set(apiKey, list);
      const info: RequestInfo = { node, apiKey, nth: list.length };
      let produce: ReturnType<typeof readProduceRequest> | undefined;
      if (apiKey === 0) {
        produceTimes.push(Date.now());
        produce = readProduceRequest(r);
        info.batches = produce.map((b) => ({
          topic: b.topic,
          partition: b.partition,
          baseSequence: b.baseSequence,
          count: b.records.length,
          producerId: b.producerId,
        }));
      }
      list.push(info);
      // Kafka closes a connection that sends anything but ApiVersions and SASL before authenticating.
      if (!authenticated && apiKey !== 18 && apiKey !== 17 && apiKey !== 36) {
        socket.destroy();
        return false;
      }
      const action = options.script?.(info) ?? { kind: 'normal' };
      if (action.kind === 'reset') {
        socket.destroy();
        return false;
      }
      if (action.kind === 'huge-frame') {
        const b = Buffer.alloc(8);
        b.writeInt32BE(1 << 30, 0);
        b.writeInt32BE(correlationId, 4);
        socket.write(b);
        return true;
      }
      const throttle = action.kind === 'throttle' ? action.ms : 0;
      switch (apiKey) {
        case 18:
          respond(correlationId, (w) => {
            w.int16(0).array(API_VERSIONS, (x, [k, min, max]) => x.int16(k).int16(min).int16(max));
            w.int32(0);
          });
          return true;
        case 17: {
          mechanism = r.string() ?? '';
          const offered = options.sasl?.mechanisms ?? ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'];
          respond(correlationId, (w) =>
            w.int16(offered.includes(mechanism) ? 0 : 33).array(offered, (x, m) => x.string(m)),
          );
          return true;
        }
        case 36: {
          const bytes = r.bytes() ?? Buffer.alloc(0);
          const answer = (code: number, message: string | null, out: Buffer) =>
            respond(correlationId, (w) => w.int16(code).string(message).bytes(out).int64(0n));
          const fail = () => {
            authAttempts += 1;
            answer(
              58,
              `Authentication failed during authentication due to invalid credentials with SASL mechanism ${mechanism}`,
              Buffer.alloc(0),
            );
          };
          const users = options.sasl?.users ?? {};
          if (mechanism === 'PLAIN') {
            const [, user, password] = bytes.toString('utf8').split('\u0000');
            if (user === undefined || users[user] !== password) {
              fail();
              return true;
            }
            authAttempts += 1;
            authenticated = true;
            answer(0, null, Buffer.alloc(0));
            return true;
          }
          const hash = mechanism === 'SCRAM-SHA-256' ? 'sha256' : 'sha512';
          const text = bytes.toString('utf8');
          if (!scramState) {
            const bare = text.slice(3);
            const user = /n=([^,]*)/.exec(bare)?.[1] ?? '';
            const nonce = /r=([^,]*)/.exec(bare)?.[1] ?? '';
            const serverFirst = `r=${nonce}${randomBytes(8).toString('hex')},s=${Buffer.from('fakesalt').toString('base64')},i=4096`;
            scramState = { mechanism, user, clientFirstBare: bare, serverFirst };
            answer(0, null, Buffer.from(serverFirst));
            return true;
          }
          const password = users[scramState.user];
          const bareFinal = text.slice(0, text.indexOf(',p='));
          const proof = Buffer.from(text.slice(text.indexOf(',p=') + 3), 'base64');
          const authMessage = `${scramState.clientFirstBare},${scramState.serverFirst},${bareFinal}`;
          if (password === undefined) {
            fail();
            return true;
          }
          const len = createHash(hash).digest().length;
          const salted = pbkdf2Sync(password, Buffer.from('fakesalt'), 4096, len, hash);
          const hmac = (k: Buffer, t: string) => createHmac(hash, k).update(t).digest();
          const storedKey = createHash(hash).update(hmac(salted, 'Client Key')).digest();
          const signature = hmac(storedKey, authMessage);
          const clientKey = Buffer.from(proof.map((b, i) => b ^ signature[i]!));
          if (!createHash(hash).update(clientKey).digest().equals(storedKey)) {
            fail();
            return true;
          }
          authAttempts += 1;
          authenticated = true;
          answer(0, null, Buffer.from(`v=${hmac(hmac(salted, 'Server Key'), authMessage).toString('base64')}`));
          return true;
        }
        case 3: {
          const topics = r.array((x) => x.string() ?? '');
          const live = Array.from({ length: nodeCount }, (_, i) => i + 1).filter((n) => !removed.has(n));
          respond(correlationId, (w) => {
            w.int32(throttle);
            w.array(live, (x, n) =>
              x
                .int32(n)
                .string('127.0.0.1')
                .int32(ports[n - 1]!)
                .string(null),
            );
            w.string('fake-cluster').int32(1);
            w.array(topics, (x, t) => {
              const parts = partitions.get(t);
              if (!parts) {
                x.int16(3)
                  .string(t)
                  .bool(false)
                  .array([], () => undefined);
                return;
              }
              if (denied.has(t)) {
                x.int16(29)
                  .string(t)
                  .bool(false)
                  .array([], () => undefined);
                return;
              }
              x.int16(0).string(t).bool(false);
              x.array(parts, (y, part) => {
                const i = parts.indexOf(part);
                y.int16(0).int32(i).int32(part.leader);
                y.array([part.leader], (z, n) => z.int32(n));
                y.array([part.leader], (z, n) => z.int32(n));
                y.array([], () => undefined);
              });
            });
          });
          return true;
        }
        case 22: {
          if (action.kind === 'error') {
            respond(correlationId, (w) => w.int32(throttle).int16(action.code).int64(-1n).int16(-1));
            return true;
          }
          const id = nextProducerId;
          nextProducerId += 1n;
          respond(correlationId, (w) => w.int32(throttle).int16(0).int64(id).int16(0));
          return true;
        }
        case 0: {
          const results: { topic: string; partition: number; code: number; offset: number }[] = [];
          for (const b of produce!) {
            let code: number;
            let offset = -1;
            if (action.kind === 'error') code = action.code;
            else {
              const part = partitionOf(b.topic, b.partition);
              if (part.leader !== node) code = 6;
              else [code, offset] = append(b.topic, part, b, b.bytes);
            }
            results.push({ topic: b.topic, partition: b.partition, code, offset });
          }
          if (action.kind === 'append-then-reset') {
            socket.destroy();
            return false;
          }
          if (action.kind === 'append-then-hang') return true;
          const byTopic = new Map<string, typeof results>();
          for (const x of results) byTopic.set(x.topic, [...(byTopic.get(x.topic) ?? []), x]);
          respond(correlationId, (w) => {
            w.array([...byTopic], (x, [topic, list]) =>
              x
                .string(topic)
                .array(list, (y, p) => y.int32(p.partition).int16(p.code).int64(BigInt(p.offset)).int64(-1n).int64(0n)),
            );
            w.int32(throttle);
          });
          return true;
        }
        default:
          socket.destroy();
          return false;
      }
    };
  };

  for (let node = 1; node <= nodeCount; node += 1) {
    const server = options.tls ? createTlsServer(options.tls, serve(node)) : createServer(serve(node));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    ports.push((server.address() as { port: number }).port);
  }

  return {
    brokers: ports.map((p) => `127.0.0.1:${p}`),
    partition: partitionOf,
    records: (topic) => (partitions.get(topic) ?? []).map((p) => p.log),
    moveLeader(topic, partition, node) {
      partitionOf(topic, partition).leader = node;
    },
    forgetProducers() {
      for (const parts of partitions.values()) for (const p of parts) p.producers.clear();
    },
    removeNode(node) {
      removed.add(node);
    },
    openConnections: (node) => sockets.get(node)?.size ?? 0,
    requests: (apiKey) => seen.get(apiKey) ?? [],
    produceTimes: () => produceTimes,
    get authAttempts() {
      return authAttempts;
    },
    async close() {
      for (const set of sockets.values()) for (const s of set) s.destroy();
      await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    },
  };
}

/** Decodes a Produce v7 request body: every partition's batch, CRC checked, decompressed. */
function readProduceRequest(r: Reader) {
  r.string(); // transactional id
  r.int16(); // acks
  r.int32(); // timeout
  const out: {
    topic: string;
    partition: number;
    producerId: bigint;
    epoch: number;
    baseSequence: number;
    bytes: number;
    records: { key: string; value: string }[];
  }[] = [];
  r.array((t) => {
    const topic = t.string() ?? '';
    t.array((p) => {
      const partition = p.int32();
      const batch = p.bytes()!;
      if (batch.readUInt32BE(17) !== crc32c(batch, 21)) throw new Error('fake broker: batch CRC mismatch');
      const codec = batch.readInt16BE(21) & 7;
      const count = batch.readInt32BE(57);
      const body = decompress(codec, batch.subarray(61));
      const records: { key: string; value: string }[] = [];
      let o = 0;
      for (let i = 0; i < count; i += 1) {
        let len: number;
        [len, o] = readVarint(body, o);
        const end = o + len;
        o += 2; // attributes, timestamp delta 0
        [, o] = readVarint(body, o); // offset delta
        let k: number;
        [k, o] = readVarint(body, o);
        const key = body.toString('utf8', o, o + k);
        o += k;
        let v: number;
        [v, o] = readVarint(body, o);
        records.push({ key, value: body.toString('utf8', o, o + v) });
        o = end;
      }
      out.push({
        topic,
        partition,
        producerId: batch.readBigInt64BE(43),
        epoch: batch.readInt16BE(51),
        baseSequence: batch.readInt32BE(53),
        bytes: batch.length,
        records,
      });
    });
  });
  return out;
}
