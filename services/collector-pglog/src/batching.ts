import type { Outbox } from '@vigie/collector-kit';
import type { VigieEvent } from '@vigie/contract';
import type { LogParser, ParserOutput } from '@vigie/pglog';
import type { LogPosition, LogTailer } from './source-tail.js';

export interface BatchingOptions {
  sink: Outbox<LogPosition>;
  parser: LogParser;
  tailer: LogTailer;
  /** Kafka refuses a record batch above message.max.bytes (1 MiB by default): batches are cut well below it. */
  batchMaxEvents: number;
  batchMaxBytes: number;
  /** A record the parser refused, on its way to the dead-letter topic. */
  onRejected: (reason: string, file: string, offset: number) => void;
}

/** The parser's outputs into the outbox, each batch cut at a position every earlier event is before. */
export interface Batching {
  /** Queues outputs, cutting a batch when it reaches the event or byte limit. */
  send(outputs: readonly ParserOutput[]): void;
  /** Cuts the batch at the current watermark. */
  cut(): void;
  /** Queues one event and cuts, when the in-flight window has room (heartbeats, settings: sent again later). */
  offer(event: VigieEvent): void;
  /** Timestamp of the last event queued (ISO text: parsed only by the heartbeat, not per event). */
  readonly lastEventTs: string | undefined;
}

export function createBatching(o: BatchingOptions): Batching {
  const { sink, parser, tailer } = o;
  let lastEventTs: string | undefined;

  /** The checkpoint candidate now: before the oldest statement still being merged, else after the last record. */
  function watermark(): LogPosition | undefined {
    const p = parser.oldestPending();
    if (p !== undefined) {
      const id = tailer.identityOf(p.file);
      if (id) return { file: p.file, offset: p.offset, ...id };
    }
    return tailer.position();
  }

  return {
    send(outputs) {
      for (const out of outputs) {
        if (out.kind === 'deadletter') o.onRejected(out.reason, out.source.file ?? '', out.source.offset ?? 0);
        else lastEventTs = out.ts;
        sink.add(out);
        if (sink.batchSize >= o.batchMaxEvents || sink.batchBytes >= o.batchMaxBytes) sink.cut(watermark());
      }
    },
    cut: () => sink.cut(watermark()),
    offer(event) {
      if (sink.full()) return;
      sink.add(event);
      sink.cut(watermark());
    },
    get lastEventTs() {
      return lastEventTs;
    },
  };
}
