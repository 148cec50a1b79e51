import { defineErrors } from '@vigie/errors';

/** Error codes of `@vigie/kafka` (what each Kafka protocol error becomes: `wire/error-codes.ts`). */
export const KAFKA_ERRORS = defineErrors({
  TOPICS: ['VIGIE_KAFKA_TOPICS', 'topics could not be created'],
  TOPICS_UNSAFE: ['VIGIE_KAFKA_TOPICS_UNSAFE', 'a topic the service uses cannot survive the loss of one broker'],
  AUTH: ['VIGIE_KAFKA_AUTH', 'the broker refused the SASL authentication, or failed to prove it knows the password'],
  TLS: ['VIGIE_KAFKA_TLS', "the broker's certificate is not trusted or does not name the broker's address"],
  AUTHORIZATION: ['VIGIE_KAFKA_AUTHORIZATION', 'a Kafka ACL refuses this user an operation'],
  FRAME_TOO_LARGE: ['VIGIE_KAFKA_FRAME_TOO_LARGE', 'a broker answered with a frame above the cap (TLS mismatch)'],
  RECORD_REJECTED: [
    'VIGIE_KAFKA_RECORD_REJECTED',
    'the broker refuses a record for good (invalid, corrupt, timestamp)',
  ],
  MESSAGE_TOO_LARGE: ['VIGIE_KAFKA_MESSAGE_TOO_LARGE', "one message is larger than the topic's max.message.bytes"],
  STOPPED: ['VIGIE_KAFKA_STOPPED', 'the client stopped before Kafka acknowledged a batch'],
  CONNECTION: ['VIGIE_KAFKA_CONNECTION', 'a broker connection failed, closed or did not answer in time'],
  UNSUPPORTED: ['VIGIE_KAFKA_UNSUPPORTED', 'the broker lacks a request version or feature the producer needs'],
  METADATA: ['VIGIE_KAFKA_METADATA', 'a topic or broker has no metadata or no leader yet'],
  PRODUCER_ID: ['VIGIE_KAFKA_PRODUCER_ID', 'the broker refused to give the producer an id'],
  PRODUCE: ['VIGIE_KAFKA_PRODUCE', 'the broker refused a batch'],
});
