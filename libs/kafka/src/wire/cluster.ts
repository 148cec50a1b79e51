import { VigieError, type Logger } from '@vigie/runtime';
import { BrokerConnection } from './connection.js';
import { API, errorName, readApiVersions, readMetadata, writeMetadata, type BrokerAddress } from './protocol.js';

export interface ClusterOptions {
  brokers: readonly string[];
  clientId: string;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  logger: Logger;
}

/** Where each partition of a topic is led: `leaders[p]` is the node id of partition p's leader (-1: none now). */
export interface TopicLayout {
  leaders: number[];
}

const parseAddress = (s: string): { host: string; port: number } => {
  const at = s.lastIndexOf(':');
  return { host: s.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(s.slice(at + 1)) };
};

/**
 * The producer's view of the cluster: one connection per broker (checked with ApiVersions when opened), topic
 * layouts from Metadata, refreshed on demand. Any broker answers Metadata and InitProducerId; produce requests go to
 * each partition's leader.
 */
export class Cluster {
  private readonly connections = new Map<string, Promise<BrokerConnection>>();
  private readonly nodes = new Map<number, BrokerAddress>();
  private readonly layouts = new Map<string, TopicLayout>();

  constructor(private readonly options: ClusterOptions) {}

  /**
   * A live connection to `address` (host:port), opened and version-checked if needed. One that failed to open, or
   * closed since, is replaced; concurrent callers share one opening.
   */
  async connection(address: string): Promise<BrokerConnection> {
    for (;;) {
      const existing = this.connections.get(address);
      if (existing === undefined) break;
      const conn = await existing.catch(() => undefined);
      if (conn !== undefined && !conn.closed) return conn;
      // Another caller may have replaced it meanwhile: look again.
      if (this.connections.get(address) === existing) this.connections.delete(address);
    }
    const opening = this.open(address);
    this.connections.set(address, opening);
    return opening;
  }

  private async open(address: string): Promise<BrokerConnection> {
    const { host, port } = parseAddress(address);
    const conn = new BrokerConnection({ ...this.options, host, port });
    await conn.connect();
    const reader = await conn.request(API.ApiVersions, () => undefined);
    const { errorCode, apis } = readApiVersions(reader);
    const missing = errorCode
      ? [`ApiVersions failed: ${errorName(errorCode)}`]
      : Object.entries(API).flatMap(([name, api]) => {
          const range = apis.get(api.key);
          return range && range.min <= api.version && api.version <= range.max
            ? []
            : [`${name} v${api.version} (broker offers ${range ? `v${range.min}–v${range.max}` : 'none'})`];
        });
    if (missing.length > 0) {
      conn.close();
      throw new VigieError('VIGIE_KAFKA_UNSUPPORTED', `kafka broker ${address} lacks ${missing.join(', ')}`, {
        retriable: true,
      });
    }
    return conn;
  }

  /** The connection to node `nodeId` (from the last Metadata answer). */
  async node(nodeId: number): Promise<BrokerConnection> {
    const addr = this.nodes.get(nodeId);
    if (!addr)
      throw new VigieError('VIGIE_KAFKA_METADATA', `kafka node ${nodeId} is not in the metadata`, { retriable: true });
    return this.connection(`${addr.host}:${addr.port}`);
  }

  /** Any live broker: known nodes first, then the bootstrap list; the first that connects. */
  async any(): Promise<BrokerConnection> {
    const addresses = [
      ...new Set([...[...this.nodes.values()].map((n) => `${n.host}:${n.port}`), ...this.options.brokers]),
    ];
    let last: unknown;
    for (const address of addresses) {
      try {
        return await this.connection(address);
      } catch (error) {
        last = error;
      }
    }
    throw last ?? new VigieError('VIGIE_KAFKA_CONNECTION', 'no kafka broker configured', { retriable: true });
  }

  /** The layout of `topic`, fetching metadata if it is unknown or `refresh` is set. */
  async layout(topics: readonly string[], refresh = false): Promise<Map<string, TopicLayout>> {
    const wanted = refresh
      ? [...new Set([...topics, ...this.layouts.keys()])]
      : topics.filter((t) => !this.layouts.has(t));
    if (wanted.length > 0) await this.fetchMetadata(wanted);
    const out = new Map<string, TopicLayout>();
    for (const t of topics) {
      const layout = this.layouts.get(t);
      if (!layout) throw new VigieError('VIGIE_KAFKA_METADATA', `no metadata for topic ${t}`, { retriable: true });
      out.set(t, layout);
    }
    return out;
  }

  private async fetchMetadata(topics: readonly string[]): Promise<void> {
    const conn = await this.any();
    const { brokers, topics: metadata } = readMetadata(
      await conn.request(API.Metadata, (w) => writeMetadata(w, topics)),
    );
    this.nodes.clear();
    for (const b of brokers) this.nodes.set(b.nodeId, b);
    const problems: string[] = [];
    for (const t of metadata) {
      if (t.errorCode !== 0 || t.partitions.length === 0) {
        this.layouts.delete(t.name);
        problems.push(`${t.name}: ${t.errorCode ? errorName(t.errorCode) : 'no partitions'}`);
        continue;
      }
      const leaders: number[] = [];
      for (const p of t.partitions) leaders[p.partition] = p.leader; // -1 while the partition has no leader
      this.layouts.set(t.name, { leaders: Array.from(leaders, (l) => l ?? -1) });
    }
    if (problems.length > 0) {
      throw new VigieError('VIGIE_KAFKA_METADATA', `kafka metadata: ${problems.join('; ')}`, { retriable: true });
    }
  }

  /** Closes every connection (requests in flight fail). */
  close(): void {
    for (const opening of this.connections.values())
      opening.then(
        (c) => c.close(),
        () => undefined,
      );
    this.connections.clear();
  }
}
