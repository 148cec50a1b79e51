import { describe, expect, it } from 'vitest';
import type { VigieEvent } from '@vigie/contract';
import { sampleStatement } from '../../../test-support/fixtures.js';
import { createTimelineRecorder } from './timeline.js';

describe('timeline recorder', () => {
  it('buffers recent events and writes them once the session alerts, then every later event up to a cap', () => {
    const t = createTimelineRecorder({ preAlertEvents: 3, maxEventsPerSession: 5, maxSessions: 10 });
    for (let i = 1; i <= 5; i += 1) expect(t.observe(sampleStatement('a.1', i, `SELECT ${i}`))).toBeUndefined();
    const flushed = t.markAlerting('local', 'a.1');
    expect(flushed.map((e) => e.eventId)).toEqual(['local:a.1:3', 'local:a.1:4', 'local:a.1:5']);
    expect(flushed[0]?.body).toMatchObject({ class: 'READ', command: 'SELECT', text: 'SELECT 3' });
    expect(t.markAlerting('local', 'a.1')).toEqual([]);
    const later = [6, 7, 8].map((i) => t.observe(sampleStatement('a.1', i, 'x')));
    expect(later.map((e) => e?.eventId)).toEqual(['local:a.1:6', 'local:a.1:7', undefined]);
  });

  it('bounds the number of sessions, the oldest created first', () => {
    const t = createTimelineRecorder({ preAlertEvents: 2, maxEventsPerSession: 5, maxSessions: 2 });
    t.observe(sampleStatement('a.1', 1, 'x'));
    t.observe(sampleStatement('b.2', 1, 'x'));
    t.observe(sampleStatement('b.2', 2, 'x'));
    t.observe(sampleStatement('c.3', 1, 'x'));
    expect(t.size).toBe(2);
    expect(t.markAlerting('local', 'b.2')).toHaveLength(2);
    expect(t.markAlerting('local', 'c.3')).toHaveLength(1);
  });

  it('keeps the same session id of two clusters apart, and forgets an ended or evicted session whole', () => {
    const t = createTimelineRecorder({ preAlertEvents: 5, maxEventsPerSession: 5, maxSessions: 2 });
    t.observe(sampleStatement('a.1', 1, 'x', { cluster: 'one' }));
    t.observe(sampleStatement('a.1', 2, 'x', { cluster: 'two' }));
    t.observe(sampleStatement('a.1', 3, 'x', { cluster: 'two' }));
    expect(t.markAlerting('one', 'a.1').map((e) => e.eventId)).toEqual(['one:a.1:1']);
    // Full: a third session evicts the oldest created (one/a.1), which starts afresh when seen again.
    t.observe(sampleStatement('b.2', 1, 'x', { cluster: 'one' }));
    expect(t.size).toBe(2);
    t.observe(sampleStatement('a.1', 4, 'x', { cluster: 'one' }));
    expect(t.markAlerting('one', 'a.1').map((e) => e.eventId)).toEqual(['one:a.1:4']);
    const end = { ...sampleStatement('b.2', 2, 'x', { cluster: 'one' }), kind: 'session.end', durationMs: 1 };
    t.observe(end as VigieEvent);
    expect(t.size).toBe(1);
    expect(t.markAlerting('one', 'b.2')).toEqual([]);
  });

  it('evicts idle sessions', () => {
    let now = 0;
    const t = createTimelineRecorder({ preAlertEvents: 2, maxEventsPerSession: 5, maxSessions: 10 }, () => now);
    t.observe(sampleStatement('a.1', 1, 'x'));
    now = 1000;
    t.observe(sampleStatement('b.2', 1, 'x'));
    t.evictIdle(500);
    expect(t.size).toBe(1);
  });
});
