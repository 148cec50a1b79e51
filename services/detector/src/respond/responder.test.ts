import { compilePolicy, SitePolicy } from '@vigie/policy';
import { ConfigError, createLogger } from '@vigie/runtime';
import { createDetector } from '../app.js';
import { DetectorConfig } from '../config.js';
import { describe, expect, it } from 'vitest';
import { sampleAlert } from '../../test-support/fixtures.js';
import { autoResponder } from './auto-response.js';
import { backendOf, refusals, type ResponseRequest } from './responder.js';

const policy = (response: Record<string, unknown> = {}) =>
  compilePolicy(
    SitePolicy.parse({
      clusters: [{ name: 'local', environment: 'production' }],
      roles: { vigie: ['vigie', 'vigie_*'] },
      response: { never: ['breakglass_*'], maxLockFor: '1d', ...response },
    }),
  );
const allowed = { exists: true, superuser: false, canLogin: true };
const ctx = (facts = allowed, p = policy()) => ({ cluster: 'local', policy: p, responderRole: 'responder', facts });
const target = { role: 'dba_alice', cluster: 'local', sessionId: '6b07e26d.1a57' };
const both = { terminate: true, lock: true, lockForMs: 4 * 3600_000 };

describe('responder: who may be acted on', () => {
  it('reads the backend pid and start from PostgreSQL session ids', () => {
    expect(backendOf('6b07e26d.1a57')).toEqual({ startEpoch: 0x6b07e26d, pid: 0x1a57 });
    expect(backendOf('not-a-session')).toBeUndefined();
  });

  it('allows an ordinary login role', () => {
    expect(refusals(target, both, ctx())).toEqual([]);
  });

  it('refuses response.never, Vigie accounts (by policy or as the responder itself) and superusers', () => {
    expect(refusals({ ...target, role: 'breakglass_ops' }, both, ctx())).toEqual([
      'breakglass_ops is listed in response.never: never acted on',
    ]);
    expect(refusals({ ...target, role: 'vigie_detector' }, both, ctx())).toEqual([
      "vigie_detector is one of Vigie's own accounts (roles.vigie): never acted on",
    ]);
    expect(refusals({ ...target, role: 'responder' }, both, ctx())[0]).toContain("one of Vigie's own accounts");
    expect(refusals(target, both, ctx({ ...allowed, superuser: true }))).toEqual([
      'dba_alice is a superuser (response.allowSuperuser is false)',
    ]);
    expect(refusals(target, both, ctx({ ...allowed, superuser: true }, policy({ allowSuperuser: true })))).toEqual([]);
  });

  it('refuses what cannot be done: no session, no role, another cluster, a lock beyond maxLockFor', () => {
    expect(refusals({ ...target, sessionId: undefined }, both, ctx())).toEqual([
      'the alert is about no single session: nothing to terminate',
    ]);
    // A lock needs no session (a bulk read summed across sessions can still lock its role).
    expect(refusals({ ...target, sessionId: undefined }, { terminate: false, lock: true }, ctx())).toEqual([]);
    expect(refusals({ ...target, role: undefined }, both, ctx())).toEqual(['the alert names no login role']);
    expect(refusals({ ...target, cluster: 'other' }, both, ctx())).toEqual([
      'the alert is about cluster other; this detector responds on cluster local only',
    ]);
    expect(refusals(target, { ...both, lockForMs: 2 * 86_400_000 }, ctx())).toEqual([
      'a lock of 172800 s exceeds response.maxLockFor (1d)',
    ]);
    expect(refusals(target, both, ctx({ exists: false, superuser: false, canLogin: false }))).toEqual([
      'role dba_alice does not exist any more',
    ]);
  });
});

describe('automatic responses', () => {
  const logger = createLogger('test', { level: 'silent' });
  const recorder = () => {
    const calls: { id: string; request: ResponseRequest }[] = [];
    return {
      calls,
      respond: async (alert: { id: string }, request: ResponseRequest) => {
        calls.push({ id: alert.id, request });
        return { status: 'done' as const, actions: [] };
      },
    };
  };

  it('is off unless the policy lists rules', () => {
    expect(autoResponder(policy(), recorder(), logger)).toBeUndefined();
  });

  it("responds once per firing alert of a listed rule, with the rule's actions and lock", () => {
    const r = recorder();
    const listen = autoResponder(policy({ rules: { dump: { actions: ['lock'], lockFor: '30m' } } }), r, logger);
    listen?.(sampleAlert());
    listen?.(sampleAlert({ revision: 2 }));
    listen?.(sampleAlert({ id: 'other', rule: 'bulk-read' }));
    listen?.(sampleAlert({ id: 'resolved', status: 'resolved' }));
    // Already responded to automatically (a restarted detector sees it on the alert).
    listen?.(
      sampleAlert({
        id: 'done-before',
        response: [
          {
            action: 'lock',
            mode: 'automatic',
            by: 'policy',
            at: '2026-11-26T01:14:06.000Z',
            role: 'dba_alice',
            result: 'done',
            detail: '',
          },
        ],
      }),
    );
    expect(r.calls).toEqual([
      {
        id: 'dump:local:6b07e26d.1a57',
        request: { terminate: false, lock: true, lockForMs: 1_800_000, dryRun: false, by: 'policy', mode: 'automatic' },
      },
    ]);
  });
});

describe('detector startup', () => {
  it('refuses automatic responses keyed on a rule that does not exist, naming it', () => {
    const config = DetectorConfig.parse({ profile: 'local', api: { allowAnonymous: true } });
    const make = () =>
      createDetector(config, {
        logger: createLogger('test', { level: 'silent' }),
        policy: policy({ rules: { dump: { actions: ['lock'] }, 'dumps-typo': { actions: ['terminate'] } } }),
      });
    expect(make).toThrow(ConfigError);
    try {
      make();
    } catch (error) {
      expect((error as ConfigError).problems.map((p) => [p.path, p.found])).toEqual([
        ['response.rules.dumps-typo', 'dumps-typo'],
      ]);
    }
  });
});
