import { isBusinessTime, type SitePolicy } from '@vigie/policy';

/**
 * Business-hours test with a one-minute memo: the answer cannot change inside a minute (hours are HH:MM), and
 * formatting a date in a time zone costs microseconds, so a burst of statements pays it once.
 */
export function createSchedule(policy: Pick<SitePolicy, 'businessHours'>): (tsMs: number) => boolean {
  let minute = Number.NaN;
  let answer = false;
  return (tsMs) => {
    const m = Math.floor(tsMs / 60_000);
    if (m !== minute) {
      minute = m;
      answer = isBusinessTime(policy, tsMs);
    }
    return answer;
  };
}
