import type { Alert } from '@vigie/contract';
import { durationMs, type CompiledPolicy } from '@vigie/policy';
import { describeError, type Logger } from '@vigie/runtime';
import type { Responder } from './responder.js';

/**
 * The policy's automatic responses (`response.rules`): a listener of the detector's alert states that responds once
 * to each alert of a listed rule when it fires, with the rule's actions; undefined when the policy lists none. The
 * responder applies the same refusals as to a person (response.never, Vigie's accounts, superusers).
 */
export function autoResponder(
  policy: CompiledPolicy,
  responder: Pick<Responder, 'respond'>,
  logger: Logger,
): ((alert: Alert) => void) | undefined {
  const rules = policy.policy.response.rules;
  if (Object.keys(rules).length === 0) return undefined;
  const started = new Set<string>();
  return (alert) => {
    const rule = rules[alert.rule];
    if (rule === undefined || alert.status !== 'firing' || started.has(alert.id)) return;
    // Once per alert, also across restarts: the alert carries its responses.
    if (alert.response?.some((r) => r.mode === 'automatic')) return;
    started.add(alert.id);
    void responder
      .respond(alert, {
        terminate: rule.actions.includes('terminate'),
        lock: rule.actions.includes('lock'),
        lockForMs: rule.lockFor === undefined ? undefined : durationMs(rule.lockFor),
        dryRun: false,
        by: 'policy',
        mode: 'automatic',
      })
      .catch((error: unknown) =>
        logger.error({ alertId: alert.id, error: describeError(error) }, 'automatic response failed'),
      );
  };
}
