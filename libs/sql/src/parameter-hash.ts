import { createHmac } from 'node:crypto';

/** Hex characters kept from the HMAC: 64 bits, enough to link equal values without a practical collision. */
const HASH_HEX_LENGTH = 16;

/**
 * Builds the function that turns a bound parameter value into `StatementEvent.audit.parameterHashes` entries:
 * HMAC-SHA256 with the site's key, hex, truncated. Equal values give equal hashes, so an investigator can see that
 * two sessions looked up the same NIR without the NIR leaving the collector; without the key the hash cannot be
 * reversed by enumerating NIRs.
 */
export function createParameterHasher(key: string | Buffer): (value: string) => string {
  return (value) => createHmac('sha256', key).update(value, 'utf8').digest('hex').slice(0, HASH_HEX_LENGTH);
}
