import { describe, expect, it } from 'vitest';
import { ContractError, decodeAlert, decodeDeadLetter } from '@vigie/contract';
import type { OutgoingMessage, ReliableProducer } from '@vigie/kafka';
import { VigieError } from '@vigie/errors';
import { KAFKA_ERRORS } from '@vigie/kafka';
import { deadLetterOf, redactedExcerpt } from '../../source/decode.js';
import { alertMessages, deadLetterMessages, publishAlerts } from './messages.js';
import { sampleAlert } from '../../../test-support/fixtures.js';

describe('kafka messages', () => {
  it('keys alerts by id and encodes them per the contract', () => {
    const [m] = alertMessages([sampleAlert()], 'alerts');
    expect(m?.key).toBe('dump:local:6b07e26d.1a57');
    const decoded = decodeAlert(m?.value ?? '');
    expect(decoded.ok && decoded.value.revision).toBe(1);
  });

  it('redacts values but keeps keys in the excerpt', () => {
    const text = redactedExcerpt(Buffer.from('{"kind":"statement","nir":"1850775123456","pid":4242}'));
    expect(text).toBe('{"kind":"…","nir":"…","pid":0}');
    expect(text).not.toContain('1850775123456');
  });

  it('builds a dead letter with the source position and a deterministic id', () => {
    const error = new ContractError([{ path: 'session.pid', message: 'Invalid input: expected number' }]);
    const letter = deadLetterOf(
      { topic: 't', partition: 2, offset: '41', value: Buffer.from('{"session":{"pid":"x"}}'), error },
      'local',
      new Date('2026-11-26T00:00:00Z'),
    );
    expect(letter).toMatchObject({
      id: 'detector:t:2:41',
      reason: 'invalid_event',
      source: { file: 'kafka:t/2', offset: 41 },
      detail: 'session.pid: Invalid input: expected number',
    });
    const [m] = deadLetterMessages([letter], 'dl');
    const back = decodeDeadLetter(m?.value ?? '');
    expect(back.ok).toBe(true);
  });

  it('calls non-JSON undecodable', () => {
    const error = new ContractError([{ path: '', message: 'not valid JSON' }]);
    const letter = deadLetterOf({ topic: 't', partition: 0, offset: '0', value: Buffer.from('{oops'), error }, 'c');
    expect(letter.reason).toBe('undecodable');
  });

  it('replaces an alert Kafka refuses for good by a dead letter naming it; a refusal of the detector rejects', async () => {
    const sent: OutgoingMessage[][] = [];
    const broken: { error?: Error } = {};
    const producer: ReliableProducer = {
      send: async (messages) => {
        if (broken.error) throw broken.error;
        sent.push([...messages]);
        const big = messages.find((m) => m.topic === 'alerts');
        return sent.length === 1 && big
          ? {
              rejected: [
                {
                  message: big,
                  error: new VigieError(KAFKA_ERRORS.MESSAGE_TOO_LARGE, 'refused', {
                    context: { bytes: 2_000_000, error: 'MESSAGE_TOO_LARGE' },
                  }),
                },
              ],
            }
          : { rejected: [] };
      },
      state: 'ready',
      lastError: undefined,
      stop: async () => undefined,
    };
    const refused: string[] = [];
    const alert = sampleAlert();
    const options = {
      topics: { alerts: 'alerts', deadletter: 'dead' },
      cluster: 'local',
      onRejected: (r: { error: VigieError }) => refused.push(r.error.code),
    };
    await publishAlerts(producer, [alert], [], options);
    expect(refused).toEqual(['VIGIE_KAFKA_MESSAGE_TOO_LARGE']);
    expect(sent).toHaveLength(2);
    const decoded = decodeDeadLetter(sent[1]![0]!.value);
    expect(
      decoded.ok && [decoded.value.id, decoded.value.reason, decoded.value.component, decoded.value.detail],
    ).toEqual([
      `${alert.id}:kafka-rejected`,
      'kafka_rejected',
      'detector',
      'alert of 2000000 bytes refused by Kafka for alerts: MESSAGE_TOO_LARGE',
    ]);
    broken.error = new VigieError(KAFKA_ERRORS.AUTHORIZATION, 'no ACL');
    await expect(publishAlerts(producer, [alert], [], options)).rejects.toMatchObject({
      code: 'VIGIE_KAFKA_AUTHORIZATION',
    });
  });
});
