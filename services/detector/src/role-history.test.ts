import { describe, expect, it } from 'vitest';
import { createRoleHistory, discoverLoginRoles } from './role-history.js';

describe('role history', () => {
  it("answers from the store's copy, per cluster; its memory begins at the earliest record", () => {
    const h = createRoleHistory();
    expect(h.since('c1')).toBeUndefined();
    h.load({
      lastSeen: [{ cluster: 'c1', role: 'dba_alice', ts: '2026-06-01T09:00:00.000Z' }],
      catalog: [
        { cluster: 'c1', role: 'dba_alice', firstListed: '2026-08-01T00:00:00.000Z' },
        { cluster: 'c2', role: 'old', firstListed: '2025-01-01T00:00:00.000Z', validUntil: '2026-01-01T00:00:00.000Z' },
      ],
    });
    expect(h.lastSeen('c1', 'dba_alice')).toBe(Date.parse('2026-06-01T09:00:00.000Z'));
    expect(h.lastSeen('c2', 'dba_alice')).toBeUndefined();
    expect(h.catalog('c2', 'old')).toEqual({
      firstListedMs: Date.parse('2025-01-01T00:00:00.000Z'),
      validUntilMs: Date.parse('2026-01-01T00:00:00.000Z'),
    });
    expect(h.since('c1')).toBe(Date.parse('2026-06-01T09:00:00.000Z'));
    expect(h.since('c2')).toBe(Date.parse('2025-01-01T00:00:00.000Z'));
  });

  it('reports an unreadable catalog with a retriable coded error', async () => {
    const failing = { query: () => Promise.reject(new Error('connection refused')) };
    await expect(discoverLoginRoles(failing)).rejects.toMatchObject({
      code: 'VIGIE_DETECTOR_ROLES_QUERY',
      retriable: true,
    });
  });
});
