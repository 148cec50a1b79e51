import { committedWindow, readRanges, type KafkaClient } from '@vigie/kafka';
import type { Logger } from '@vigie/runtime';
import type { DetectorEngine } from '../engine/types.js';
import { decodeMessage } from './decode.js';

/** Options of {@link rebuildPartition}. */
export interface RebuildOptions {
  kafka: KafkaClient;
  /** The detector's consumer group: its committed offsets are where live consumption resumes. */
  groupId: string;
  /** Input topics, in the order ties between them are broken (the detector's order). */
  topics: readonly string[];
  partition: number;
  /** How far back the partition's events are replayed (0: no rebuild). */
  windowMs: number;
  /** At most this many of each topic's newest events in the window (they are held in memory while sorted). */
  maxEvents: number;
  /** The engine's tick period: the replay ticks on the messages' clock as often. */
  tickEveryMs: number;
  cluster: string;
  logger: Logger;
}

/** What a rebuild replayed. */
export interface RebuildResult {
  events: number;
  ms: number;
  /** The start of the replayed window (undefined: no rebuild, the window is 0). */
  sinceMs?: number | undefined;
}

/**
 * Rebuilds the state a partition's previous owner held (sessions, windows, the txid join, incidents) in a new engine:
 * replays the partition's input events of the last `windowMs` up to what the group committed, through the engine,
 * on the clock of the messages' broker timestamps (when the previous owner consumed them, within a produce delay),
 * ticking as the live detector does. What the engine emits on the way was the previous owner's to tell, and was
 * told: it is discarded. The engine is deterministic, so it ends where the previous owner was at the committed
 * offset, and consumption continues from there.
 */
export async function rebuildPartition(engine: DetectorEngine, o: RebuildOptions): Promise<RebuildResult> {
  const started = Date.now();
  if (o.windowMs <= 0) return { events: 0, ms: 0 };
  const sinceMs = started - o.windowMs;
  const ranges = await committedWindow(o.kafka, {
    groupId: o.groupId,
    topics: o.topics,
    partition: o.partition,
    sinceMs,
    maxMessages: o.maxEvents,
  });
  const messages = await readRanges(o.kafka, {
    groupPrefix: o.groupId,
    partition: o.partition,
    ranges,
    logger: o.logger,
  });
  const rank = new Map(o.topics.map((t, i) => [t, i]));
  // The previous owner read each topic in order and the topics side by side: broker time merges them as it did.
  messages.sort(
    (a, b) =>
      a.timestampMs - b.timestampMs ||
      (rank.get(a.topic) ?? 0) - (rank.get(b.topic) ?? 0) ||
      (BigInt(a.offset) < BigInt(b.offset) ? -1 : 1),
  );
  let events = 0;
  let nextTick = messages[0] === undefined ? 0 : messages[0].timestampMs + o.tickEveryMs;
  for (const m of messages) {
    while (m.timestampMs >= nextTick) {
      engine.tick(nextTick);
      nextTick += o.tickEveryMs;
    }
    const decoded = decodeMessage(m.topic, o.partition, m, o.cluster);
    // Dead letters were the previous owner's to send; a rule error was counted by it.
    if (!decoded.ok) continue;
    try {
      engine.process(decoded.event, m.timestampMs);
      events += 1;
    } catch {
      // The live path counts and logs a rule failure; the replay of the same event fails the same way.
    }
  }
  // Held-back changes were saved by the previous owner; they are this engine's baseline, not news.
  engine.pending?.();
  return { events, ms: Date.now() - started, sinceMs };
}
