import { describe, expect, it } from 'vitest';
import { catalogueEntries, defineErrors, VigieError } from './index.js';

const DEMO_ERRORS = defineErrors({
  FILE_READ: ['VIGIE_DEMO_FILE_READ', 'a file cannot be read'],
  STOPPED: ['VIGIE_DEMO_STOPPED', 'the demo stopped first'],
});

describe('defineErrors', () => {
  it('maps each key to its code and keeps the meanings for the troubleshooting test', () => {
    expect(DEMO_ERRORS.FILE_READ).toBe('VIGIE_DEMO_FILE_READ');
    expect(Object.values(DEMO_ERRORS)).toEqual(['VIGIE_DEMO_FILE_READ', 'VIGIE_DEMO_STOPPED']);
    expect(catalogueEntries(DEMO_ERRORS)).toEqual([
      { key: 'FILE_READ', code: 'VIGIE_DEMO_FILE_READ', meaning: 'a file cannot be read' },
      { key: 'STOPPED', code: 'VIGIE_DEMO_STOPPED', meaning: 'the demo stopped first' },
    ]);
    expect(Object.isFrozen(DEMO_ERRORS)).toBe(true);
  });

  it('recognises only catalogues', () => {
    expect(catalogueEntries({ FILE_READ: 'VIGIE_DEMO_FILE_READ' })).toBeUndefined();
    expect(catalogueEntries('VIGIE_DEMO_FILE_READ')).toBeUndefined();
    expect(catalogueEntries(null)).toBeUndefined();
  });

  it('takes codes from a catalogue only: a free-text code does not type-check', () => {
    // @ts-expect-error a string literal is not an ErrorCode
    const free = new VigieError('VIGIE_DEMO_FILE_READ', 'free text');
    expect(free.code).toBe('VIGIE_DEMO_FILE_READ');
    // @ts-expect-error a catalogue entry must be written VIGIE_…
    defineErrors({ BAD: ['DEMO_BAD', 'no VIGIE_ prefix'] });
  });
});

describe('VigieError', () => {
  it('carries its code, retriable flag, context and cause', () => {
    const cause = new Error('EACCES');
    const error = new VigieError(DEMO_ERRORS.FILE_READ, 'cannot read /x', {
      retriable: true,
      cause,
      context: { file: '/x' },
      hint: 'check the permissions of /x',
    });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('VigieError');
    expect(error.code).toBe('VIGIE_DEMO_FILE_READ');
    expect(error.message).toBe('cannot read /x');
    expect(error.retriable).toBe(true);
    expect(error.context).toEqual({ file: '/x' });
    expect(error.cause).toBe(cause);
    expect(error.hint).toBe('check the permissions of /x');
  });

  it('is not retriable and has no context unless told', () => {
    const error = new VigieError(DEMO_ERRORS.STOPPED, 'stopped');
    expect(error.retriable).toBe(false);
    expect(error.context).toEqual({});
    expect(error.hint).toBeUndefined();
    expect('cause' in error).toBe(false);
  });
});
