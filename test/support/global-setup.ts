import { stackUp } from '@vigie/testkit';

/**
 * Integration tests run against the real local stack: bring it up (idempotent, seconds when it already runs).
 * Set VIGIE_STACK_EXTERNAL=1 to test against a stack someone else started (same addresses).
 */
export default function setup(): void {
  if (process.env['VIGIE_STACK_EXTERNAL'] !== '1') stackUp();
}
