import type { EventKind } from './events.js';

/** Kafka topic of each stream; `.v1` is the contract version. */
export const TOPICS = {
  activity: 'vigie.activity.v1',
  changes: 'vigie.changes.v1',
  egress: 'vigie.egress.v1',
  alerts: 'vigie.alerts.v1',
  deadletter: 'vigie.deadletter.v1',
} as const;
export type TopicName = (typeof TOPICS)[keyof typeof TOPICS];

const TOPIC_OF_KIND: Record<EventKind, TopicName> = {
  'session.start': TOPICS.activity,
  'session.end': TOPICS.activity,
  'auth.failure': TOPICS.activity,
  'replication.connection': TOPICS.activity,
  'replication.command': TOPICS.activity,
  'session.error': TOPICS.activity,
  'record.forged': TOPICS.activity,
  statement: TOPICS.activity,
  'collector.heartbeat': TOPICS.activity,
  'audit.settings': TOPICS.activity,
  'log.gap': TOPICS.activity,
  'statement.logged': TOPICS.activity,
  'change.txn': TOPICS.changes,
  'replication.slot': TOPICS.changes,
  'replication.publication': TOPICS.changes,
  'egress.sample': TOPICS.egress,
};

/** The streams collectors publish events on (keys of {@link TOPICS}); the detector reads every one of them. */
export type EventStream = Exclude<keyof typeof TOPICS, 'alerts' | 'deadletter'>;
/** See {@link EventStream}: the streams some event kind is published to, in {@link TOPICS}' order. */
export const EVENT_STREAMS: readonly EventStream[] = (Object.keys(TOPICS) as (keyof typeof TOPICS)[]).filter(
  (s): s is EventStream => Object.values(TOPIC_OF_KIND).includes(TOPICS[s]),
);

/** The topic an event kind is published to. */
export function topicOf(kind: EventKind): TopicName {
  return TOPIC_OF_KIND[kind];
}

/**
 * Kafka key of an event about one database session: `<cluster>/<session_id>`, so one session's events stay ordered
 * in one partition and one detector instance owns its state.
 */
export function sessionKey(cluster: string, sessionId: string): string {
  return `${cluster}/${sessionId}`;
}

/** Key of an event that belongs to no session (heartbeats, slot health): `<cluster>/<what>`. */
export function entityKey(cluster: string, what: string): string {
  return `${cluster}/${what}`;
}
