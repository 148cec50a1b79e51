import { describe, expect, it } from 'vitest';
import { checkFixture, loadFixtureCases, SHIPPED_FIXTURES_DIR } from './fixture-runner.js';
import { loadRules } from '../rules/load.js';

const cases = loadFixtureCases(SHIPPED_FIXTURES_DIR);

describe('rule fixtures', () => {
  it('every shipped rule has fixtures that must match and fixtures that must not', () => {
    const shipped = loadRules().rules.map((r) => r.id);
    for (const id of shipped) {
      const mine = cases.filter((c) => c.rule === id);
      expect(
        mine.some((c) => c.fixture.alerts.length > 0),
        `${id} has a must-match fixture`,
      ).toBe(true);
      expect(
        mine.some((c) => c.fixture.alerts.length === 0),
        `${id} has a must-not-match fixture`,
      ).toBe(true);
    }
  });

  // The same runner as `vigie rules test`: a fixture passes when it lists no problem.
  it.each(cases.map((c) => [`${c.rule}/${c.file.split('/').at(-1)}`, c] as const))('%s', (_name, c) => {
    expect(checkFixture(c).problems).toEqual([]);
  });
});
