import { TOPICS, topicOf, type EventKind, type TopicName } from '@vigie/contract';

/** Topic names a site may override, by stream (`activity`, `changes`, `egress`, `deadletter`). */
export type TopicNames = Partial<Record<'activity' | 'changes' | 'egress' | 'deadletter', string>>;

/** Where each event kind and the dead letters go: the contract's `topicOf()`, with the site's topic names. */
export interface Routes {
  topicOf(kind: EventKind): string;
  readonly deadletter: string;
  /** Every topic the collector may write to, for `ensureTopics`. */
  readonly all: readonly string[];
}

/**
 * Routes by the contract's {@link topicOf} (the one table of which kind goes where), renamed by the site's
 * configuration; only the streams named in `topics` are used by the collector (`all` lists those).
 */
export function createRoutes(topics: TopicNames): Routes {
  const renamed = new Map<TopicName, string>();
  for (const [stream, canonical] of Object.entries(TOPICS) as [keyof typeof TOPICS, TopicName][]) {
    const name = stream === 'alerts' ? undefined : topics[stream];
    renamed.set(canonical, name ?? canonical);
  }
  const deadletter = topics.deadletter ?? TOPICS.deadletter;
  return {
    topicOf: (kind) => renamed.get(topicOf(kind)) ?? topicOf(kind),
    deadletter,
    all: [...new Set(Object.values(topics).filter((t): t is string => t !== undefined))],
  };
}
