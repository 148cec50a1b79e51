import { isIP } from 'node:net';
import { z } from 'zod';
import { checkWhenShaped } from '@vigie/runtime';
import { Duration, parseDuration } from './duration.js';

const Cidr = z.string().refine((s) => {
  const [addr, bits, extra] = s.split('/');
  if (extra !== undefined || addr === undefined || bits === undefined || !/^\d{1,3}$/.test(bits)) return false;
  const family = isIP(addr);
  return family !== 0 && Number(bits) <= (family === 4 ? 32 : 128);
}, 'a CIDR such as 10.20.0.0/24 or fd00::/64');

const HourMinute = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time HH:MM (24h)');
// `end` may also be 24:00, the end of the day, so a window can cover a whole day (00:00–24:00) without a gap.
const EndOfWindow = z.string().regex(/^(([01]\d|2[0-3]):[0-5]\d|24:00)$/, 'a time HH:MM (24h), or 24:00');
const IsoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date YYYY-MM-DD');
const Pattern = z.string().min(1).describe('a name, or a pattern where * matches any run of characters');

/** `2026-12-31` (through the end of that day, UTC) or an ISO instant with its offset. */
const Expiry = z
  .string()
  .refine(
    (s) =>
      /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/.test(s) && !Number.isNaN(Date.parse(s)),
    'a date YYYY-MM-DD (valid through that day, UTC) or an ISO instant with its offset',
  );

/**
 * Direct access outside the bastion that a site allows for a while (a DBA workstation subnet during a migration
 * window): keyed on what a client cannot forge (login role, client network), and ending by itself.
 */
const BastionException = z
  .object({
    name: z.string().min(1).describe('why it exists (ticket, owner): shown when it is used or expired'),
    networks: z.array(Cidr).min(1).describe('client networks allowed (CIDRs)'),
    roles: z.array(Pattern).optional().describe('login roles allowed (patterns); absent: every role'),
    expires: Expiry.describe('when the exception stops exempting'),
  })
  .strict();

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** The site policy: one YAML file that says what is normal here. Every field has a default except clusters. */
export const SitePolicy = z.object({
  clusters: z
    .array(
      z.object({
        name: z.string().min(1).describe('cluster name, as the collectors are configured with it'),
        environment: z.enum(['production', 'pre-production']).describe('pre-production must hold no real data'),
        /** Networks of declared physical replicas: a walsender from elsewhere is a copy of the database leaving. */
        replicas: z.array(Cidr).default([]).describe('networks of declared streaming replicas / backup hosts'),
      }),
    )
    .min(1)
    .refine(
      (list) => {
        // Entries may be invalid here (checkWhenShaped): compare the names that are names.
        const names = list.map((c) => (c as { name?: unknown } | null)?.name).filter((n) => typeof n === 'string');
        return new Set(names).size === names.length;
      },
      {
        message: 'unique cluster names',
        // Report duplicates even when an entry has another problem: every problem at once (but only of a list).
        ...checkWhenShaped('array'),
      },
    )
    .describe('monitored clusters'),
  bastion: z
    .object({
      networks: z.array(Cidr).default([]).describe('approved bastion networks (IPv4 and IPv6 CIDRs)'),
      exceptions: z
        .array(BastionException)
        .default([])
        .describe('temporary direct access allowed from other networks (a migration window), each with an expiry'),
    })
    .prefault({}),
  businessHours: z
    .object({
      timezone: z.string().refine(isTimeZone, 'an IANA time zone such as Europe/Paris').default('Europe/Paris'),
      days: z
        .array(z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']))
        .default(['mon', 'tue', 'wed', 'thu', 'fri']),
      start: HourMinute.default('08:00'),
      end: EndOfWindow.default('19:00').describe(
        'end of the window, exclusive; 24:00 is midnight at the end of the day',
      ),
      holidays: z.array(IsoDate).default([]),
    })
    .prefault({})
    .refine((h) => !(typeof h.start === 'string' && typeof h.end === 'string') || h.start < h.end, {
      message: 'start must be before end (overnight windows are not supported)',
      // Report this even when another field of the block is wrong: every problem at once (but only of a mapping).
      ...checkWhenShaped('object'),
    }),
  personalData: z
    .object({ tables: z.array(Pattern).default([]).describe('tables holding personal data (schema.table patterns)') })
    .prefault({}),
  roles: z
    .object({
      service: z.array(Pattern).default([]).describe('application service accounts'),
      generic: z.array(Pattern).default([]).describe('shared accounts that name no person'),
      human: z.array(Pattern).default([]).describe('named human operators (optional)'),
      privileged: z.array(Pattern).default([]).describe('added to the privileged roles found in the catalog'),
      watchlist: z.array(Pattern).default([]).describe('accounts under closer watch (e.g. staff about to leave)'),
      vigie: z.array(Pattern).default([]).describe("Vigie's own accounts"),
    })
    .prefault({}),
  replication: z
    .object({
      knownSlots: z.array(Pattern).default([]).describe('replication slots that are expected'),
      knownPublications: z.array(Pattern).default([]).describe('publications that are expected'),
    })
    .prefault({}),
  response: z
    .object({
      never: z
        .array(Pattern)
        .default([])
        .describe(
          'roles Vigie never terminates or locks (break-glass accounts); roles.vigie are never acted on either',
        ),
      allowSuperuser: z
        .boolean()
        .default(false)
        .describe('act against superusers too (the responder role then needs to be one: CREATEROLE cannot alter them)'),
      lockFor: Duration.default('4h').describe('lock duration when a request or a rule names none'),
      maxLockFor: Duration.default('7d').describe('longest lock a request or a rule may ask for'),
      rules: z
        .record(
          z.string().min(1),
          z
            .object({
              actions: z
                .array(z.enum(['terminate', 'lock']))
                .min(1)
                .describe('what is done at once when the rule raises a new alert'),
              lockFor: Duration.optional().describe('lock duration for this rule (default: response.lockFor)'),
            })
            .strict(),
        )
        .default({})
        .describe('automatic responses, by rule id (none by default: responses are manual and dry-run first)'),
    })
    .prefault({})
    .refine(
      (r) => {
        const lockFor = typeof r.lockFor === 'string' ? parseDuration(r.lockFor) : undefined;
        const max = typeof r.maxLockFor === 'string' ? parseDuration(r.maxLockFor) : undefined;
        return lockFor === undefined || max === undefined || lockFor <= max;
      },
      { message: 'lockFor must not exceed maxLockFor', ...checkWhenShaped('object') },
    )
    .describe('temporary neutralisation of an account (vigie respond)'),
});
export type SitePolicy = z.infer<typeof SitePolicy>;
