import { describe, expect, it } from 'vitest';
import { parseServiceArgs } from './service-args.js';

describe('parseServiceArgs', () => {
  it('reads --config and --policy, with VIGIE_CONFIG as the fallback file', () => {
    expect(parseServiceArgs('detector', ['--config', 'a.yaml', '--policy', 'p.yaml'], {})).toEqual({
      config: 'a.yaml',
      policy: 'p.yaml',
    });
    expect(parseServiceArgs('detector', [], { VIGIE_CONFIG: '/etc/vigie/detector.yaml' })).toEqual({
      config: '/etc/vigie/detector.yaml',
      policy: undefined,
    });
  });
});
