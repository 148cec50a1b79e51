/** `vigie start` (npm start): the README's main job. Filled in with the detector. */
export async function startMain(_args: string[], _env: Record<string, string | undefined>): Promise<void> {
  process.stderr.write('vigie start: not available yet\n');
  process.exit(1);
}
