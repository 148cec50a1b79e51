// Every Kafka error code the producer can meet in the answers to the requests it sends (ApiVersions, Metadata,
// InitProducerId, Produce, SaslHandshake, SaslAuthenticate), with what the producer does about it. One table, so the
// policy is read in one place and tested against itself (error-codes.test.ts). Names and numbers:
// https://kafka.apache.org/protocol#protocol_error_codes.
import type { ErrorCode } from '@vigie/errors';
import { KAFKA_ERRORS } from '../errors.js';

/**
 * What the producer does after an error code:
 * - `landed`: the batch is in the log (a duplicate the broker recognised);
 * - `retry`: send the same batch again, same sequence numbers, after a backoff;
 * - `refresh`: the same, after fetching metadata again (the partition moved or the connection is suspect);
 * - `new-producer`: the broker lost or fenced this producer's state: take a new producer id, then re-send (a batch
 *   whose earlier outcome was unknown may then land twice — the one documented duplicate);
 * - `reject`: this batch can never be written as it is (too large, refused record): split it until the offending
 *   message is alone, then hand that message back to the caller, which dead-letters it;
 * - `fatal`: nothing this client sends will succeed until someone changes a setting, a credential or an ACL: the
 *   send fails at once with a coded, non-retriable error.
 */
export type ErrorAction = 'landed' | 'retry' | 'refresh' | 'new-producer' | 'reject' | 'fatal';

/** One Kafka error code: its protocol name, what the producer does, and the Vigie code a fatal one is raised as. */
export interface KafkaErrorCode {
  name: string;
  action: ErrorAction;
  /** For `fatal` and `reject`: the VigieError code the caller sees. */
  vigieCode?: ErrorCode;
}

const e = (name: string, action: ErrorAction, vigieCode?: ErrorCode): KafkaErrorCode =>
  vigieCode === undefined ? { name, action } : { name, action, vigieCode };

/** The table. A code missing from it is handled as {@link UNKNOWN_CODE}. */
export const KAFKA_PROTOCOL_ERRORS: Readonly<Record<number, KafkaErrorCode>> = {
  // A broker-side exception of unknown cause: Java's client gives up on the batch; a streaming collector cannot
  // drop it, so it retries with a fresh producer id (the broker's producer state is suspect).
  [-1]: e('UNKNOWN_SERVER_ERROR', 'new-producer'),
  0: e('NONE', 'landed'),
  // Corrupt or oversized records: the same bytes give the same answer. A CRC failure here means the encoder wrote a
  // bad batch (TCP and TLS already protect the bytes in transit), so re-sending it cannot help.
  2: e('CORRUPT_MESSAGE', 'reject', KAFKA_ERRORS.RECORD_REJECTED),
  10: e('MESSAGE_TOO_LARGE', 'reject', KAFKA_ERRORS.MESSAGE_TOO_LARGE),
  18: e('RECORD_LIST_TOO_LARGE', 'reject', KAFKA_ERRORS.MESSAGE_TOO_LARGE),
  32: e('INVALID_TIMESTAMP', 'reject', KAFKA_ERRORS.RECORD_REJECTED),
  43: e('UNSUPPORTED_FOR_MESSAGE_FORMAT', 'reject', KAFKA_ERRORS.RECORD_REJECTED),
  87: e('INVALID_RECORD', 'reject', KAFKA_ERRORS.RECORD_REJECTED),
  // Leadership and metadata moved: ask again where partitions live.
  3: e('UNKNOWN_TOPIC_OR_PARTITION', 'refresh'),
  5: e('LEADER_NOT_AVAILABLE', 'refresh'),
  6: e('NOT_LEADER_OR_FOLLOWER', 'refresh'),
  8: e('BROKER_NOT_AVAILABLE', 'refresh'),
  9: e('REPLICA_NOT_AVAILABLE', 'refresh'),
  13: e('NETWORK_EXCEPTION', 'refresh'),
  15: e('COORDINATOR_NOT_AVAILABLE', 'refresh'),
  16: e('NOT_COORDINATOR', 'refresh'),
  56: e('KAFKA_STORAGE_ERROR', 'refresh'),
  74: e('FENCED_LEADER_EPOCH', 'refresh'),
  75: e('UNKNOWN_LEADER_EPOCH', 'refresh'),
  // Transient: the same request later.
  7: e('REQUEST_TIMED_OUT', 'retry'),
  14: e('COORDINATOR_LOAD_IN_PROGRESS', 'retry'),
  19: e('NOT_ENOUGH_REPLICAS', 'retry'),
  // Written on the leader, not yet on enough replicas: the re-sent batch has the same sequence, the broker keeps one.
  20: e('NOT_ENOUGH_REPLICAS_AFTER_APPEND', 'retry'),
  51: e('CONCURRENT_TRANSACTIONS', 'retry'),
  89: e('THROTTLING_QUOTA_EXCEEDED', 'retry'),
  // The broker has this exact batch already (older than the five it keeps answers for): it landed.
  46: e('DUPLICATE_SEQUENCE_NUMBER', 'landed'),
  // The broker lost or fenced this producer's state (log truncated by retention or an unclean election, coordinator
  // moved): a new producer id starts the sequences again.
  45: e('OUT_OF_ORDER_SEQUENCE_NUMBER', 'new-producer'),
  47: e('INVALID_PRODUCER_EPOCH', 'new-producer'),
  49: e('INVALID_PRODUCER_ID_MAPPING', 'new-producer'),
  59: e('UNKNOWN_PRODUCER_ID', 'new-producer'),
  90: e('PRODUCER_FENCED', 'new-producer'),
  // Authorization: an ACL is missing; no retry will add it.
  29: e('TOPIC_AUTHORIZATION_FAILED', 'fatal', KAFKA_ERRORS.AUTHORIZATION),
  31: e('CLUSTER_AUTHORIZATION_FAILED', 'fatal', KAFKA_ERRORS.AUTHORIZATION),
  53: e('TRANSACTIONAL_ID_AUTHORIZATION_FAILED', 'fatal', KAFKA_ERRORS.AUTHORIZATION),
  // Authentication: wrong credentials or mechanism.
  33: e('UNSUPPORTED_SASL_MECHANISM', 'fatal', KAFKA_ERRORS.AUTH),
  34: e('ILLEGAL_SASL_STATE', 'fatal', KAFKA_ERRORS.AUTH),
  58: e('SASL_AUTHENTICATION_FAILED', 'fatal', KAFKA_ERRORS.AUTH),
  // The broker or topic cannot take what this client sends, whatever it sends.
  17: e('INVALID_TOPIC_EXCEPTION', 'fatal', KAFKA_ERRORS.PRODUCE),
  21: e('INVALID_REQUIRED_ACKS', 'fatal', KAFKA_ERRORS.PRODUCE),
  35: e('UNSUPPORTED_VERSION', 'fatal', KAFKA_ERRORS.UNSUPPORTED),
  42: e('INVALID_REQUEST', 'fatal', KAFKA_ERRORS.PRODUCE),
  44: e('POLICY_VIOLATION', 'fatal', KAFKA_ERRORS.PRODUCE),
  76: e('UNSUPPORTED_COMPRESSION_TYPE', 'fatal', KAFKA_ERRORS.UNSUPPORTED),
};

/** How a code absent from the table is handled: retried with a new producer id, and logged under its number. */
export const UNKNOWN_CODE: ErrorAction = 'new-producer';

/** The entry for `code` (a made-up one, `KAFKA_ERROR_<n>`, for a code not in the table). */
export function kafkaError(code: number): KafkaErrorCode {
  return KAFKA_PROTOCOL_ERRORS[code] ?? { name: `KAFKA_ERROR_${code}`, action: UNKNOWN_CODE };
}

/** The protocol name of `code`. */
export const errorName = (code: number): string => kafkaError(code).name;
