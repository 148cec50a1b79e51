import { describe, expect, it } from 'vitest';
import { formatLocal, isBusinessTime, localTime } from './business-hours.js';
import type { SitePolicy } from './schema.js';

type Hours = SitePolicy['businessHours'];
const paris = (over: Partial<Hours> = {}): Pick<SitePolicy, 'businessHours'> => ({
  businessHours: {
    timezone: 'Europe/Paris',
    days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'],
    start: '08:00',
    end: '19:00',
    holidays: [],
    ...over,
  },
});
const at = (iso: string): Date => new Date(iso);

describe('business hours', () => {
  it('follows the spring DST change (Europe/Paris, 2026-03-29: UTC+1 → UTC+2)', () => {
    // The day before: 07:30Z is 08:30 CET (in); 06:30Z is 07:30 (out).
    expect(isBusinessTime(paris(), at('2026-03-28T07:30:00Z'))).toBe(true);
    expect(isBusinessTime(paris(), at('2026-03-28T06:30:00Z'))).toBe(false);
    // The day of the change: 06:30Z is already 08:30 CEST (in); 05:59Z is 07:59 (out).
    expect(isBusinessTime(paris(), at('2026-03-29T06:30:00Z'))).toBe(true);
    expect(isBusinessTime(paris(), at('2026-03-29T05:59:00Z'))).toBe(false);
    // End of day: 17:00Z is 19:00 CEST (out), 16:59Z is 18:59 (in).
    expect(isBusinessTime(paris(), at('2026-03-29T17:00:00Z'))).toBe(false);
    expect(isBusinessTime(paris(), at('2026-03-29T16:59:00Z'))).toBe(true);
    // The skipped hour reads as 03:xx, never 02:xx.
    expect(localTime(at('2026-03-29T01:30:00Z'), 'Europe/Paris').time).toBe('03:30');
  });

  it('follows the autumn DST change (Europe/Paris, 2026-10-25: UTC+2 → UTC+1)', () => {
    expect(isBusinessTime(paris(), at('2026-10-24T06:30:00Z'))).toBe(true); // 08:30 CEST
    expect(isBusinessTime(paris(), at('2026-10-25T06:30:00Z'))).toBe(false); // 07:30 CET
    expect(isBusinessTime(paris(), at('2026-10-25T07:00:00Z'))).toBe(true); // 08:00 CET
    expect(isBusinessTime(paris(), at('2026-10-25T17:59:00Z'))).toBe(true); // 18:59 CET
    expect(isBusinessTime(paris(), at('2026-10-25T18:00:00Z'))).toBe(false); // 19:00 CET
    // The repeated hour: both 00:30Z and 01:30Z read 02:30 locally.
    expect(localTime(at('2026-10-25T00:30:00Z'), 'Europe/Paris').time).toBe('02:30');
    expect(localTime(at('2026-10-25T01:30:00Z'), 'Europe/Paris').time).toBe('02:30');
  });

  it('uses the local day around midnight for weekdays and holidays', () => {
    const weekdays = paris({ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '00:00', end: '23:59' });
    // 2026-11-27 is a Friday; 23:30Z is already Saturday 00:30 in Paris.
    expect(localTime(at('2026-11-27T23:30:00Z'), 'Europe/Paris')).toEqual({
      date: '2026-11-28',
      weekday: 'sat',
      time: '00:30',
    });
    expect(isBusinessTime(weekdays, at('2026-11-27T22:30:00Z'))).toBe(true);
    expect(isBusinessTime(weekdays, at('2026-11-27T23:30:00Z'))).toBe(false);
    // Christmas 2026 is a Friday: its local date starts at 23:00Z on the 24th.
    const xmas = paris({ holidays: ['2026-12-25'], start: '00:00', end: '23:59' });
    expect(isBusinessTime(xmas, at('2026-12-24T22:58:00Z'))).toBe(true);
    expect(isBusinessTime(xmas, at('2026-12-24T23:00:00Z'))).toBe(false);
    expect(isBusinessTime(xmas, at('2026-12-25T23:00:00Z'))).toBe(true);
  });

  it('ends a window at 24:00 with the last minute of the day inside it', () => {
    const allDay = paris({ days: ['sat'], start: '00:00', end: '24:00' });
    // 2026-11-28 is a Saturday: 23:59:30 Paris is 22:59:30Z; the next minute is Sunday.
    expect(isBusinessTime(allDay, at('2026-11-27T23:00:00Z'))).toBe(true);
    expect(isBusinessTime(allDay, at('2026-11-28T22:59:30Z'))).toBe(true);
    expect(isBusinessTime(allDay, at('2026-11-28T23:00:00Z'))).toBe(false);
  });

  it('respects other zones and formats times for summaries', () => {
    const ny = paris({ timezone: 'America/New_York' });
    expect(isBusinessTime(ny, at('2026-11-26T12:30:00Z'))).toBe(false); // 07:30 EST
    expect(isBusinessTime(ny, at('2026-11-26T13:00:00Z'))).toBe(true); // 08:00 EST
    expect(formatLocal(at('2026-11-26T01:14:00Z'), 'Europe/Paris')).toBe('02:14 Europe/Paris');
    expect(formatLocal(at('2026-11-26T01:14:00Z'), 'Europe/Paris', true)).toBe('2026-11-26 02:14 Europe/Paris');
  });
});
