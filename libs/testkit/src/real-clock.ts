/**
 * The environment without libfaketime (`test/support/faked-clock.sh`): servers a test starts itself (a private
 * PostgreSQL, a private Kafka's JVM) keep real time, as the local stack's and a site's servers do, while the test
 * process and the Vigie services it starts run on the faked clock.
 */
export function realClockEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) if (!k.startsWith('FAKETIME')) out[k] = v;
  const preload = (env['LD_PRELOAD'] ?? '').split(/[:\s]+/).filter((lib) => lib !== '' && !lib.includes('libfaketime'));
  if (preload.length > 0) out['LD_PRELOAD'] = preload.join(':');
  else delete out['LD_PRELOAD'];
  return out;
}
