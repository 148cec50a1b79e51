import { defineErrors } from '@vigie/errors';

/** Error codes of `@vigie/contract`. */
export const CONTRACT_ERRORS = defineErrors({
  INVALID: ['VIGIE_CONTRACT_INVALID', 'a message does not match contract v1; the error names the field paths'],
});
