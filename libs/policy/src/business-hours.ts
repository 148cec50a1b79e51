import type { SitePolicy } from './schema.js';

/** A wall-clock reading of an instant in one time zone. */
export interface LocalTime {
  /** `YYYY-MM-DD` in the zone: what a holiday list means by "that day". */
  date: string;
  /** `mon` … `sun`. */
  weekday: 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';
  /** `HH:MM`, 24 h. */
  time: string;
}

// Building an Intl.DateTimeFormat costs tens of microseconds; formatting with a cached one a few. One per zone.
const formats = new Map<string, Intl.DateTimeFormat>();

function formatFor(timeZone: string): Intl.DateTimeFormat {
  let f = formats.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formats.set(timeZone, f);
  }
  return f;
}

/**
 * Reads an instant on the wall clock of `timeZone`. The conversion goes instant → zone (never the reverse), so a
 * DST change cannot make an hour ambiguous or missing here.
 */
export function localTime(instant: Date | number, timeZone: string): LocalTime {
  const parts: Record<string, string> = {};
  for (const p of formatFor(timeZone).formatToParts(instant)) parts[p.type] = p.value;
  return {
    date: `${parts['year']}-${parts['month']}-${parts['day']}`,
    weekday: (parts['weekday'] ?? '').toLowerCase().slice(0, 3) as LocalTime['weekday'],
    time: `${parts['hour']}:${parts['minute']}`,
  };
}

/**
 * Whether an instant falls inside the site's business hours: a listed day, not a holiday (the local date in the
 * policy's zone), and `start <= HH:MM < end` on the local wall clock.
 */
export function isBusinessTime(policy: Pick<SitePolicy, 'businessHours'>, instant: Date | number): boolean {
  const hours = policy.businessHours;
  const t = localTime(instant, hours.timezone);
  if (!hours.days.includes(t.weekday)) return false;
  if (hours.holidays.includes(t.date)) return false;
  // Zero-padded HH:MM strings compare in time order.
  return t.time >= hours.start && t.time < hours.end;
}

/** Formats an instant as `HH:MM <zone>` (or `YYYY-MM-DD HH:MM <zone>`), for alert summaries read at 3 a.m. */
export function formatLocal(instant: Date | number, timeZone: string, withDate = false): string {
  const t = localTime(instant, timeZone);
  return withDate ? `${t.date} ${t.time} ${timeZone}` : `${t.time} ${timeZone}`;
}
