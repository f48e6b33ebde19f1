import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../src/config.ts';

describe('parseConfig', () => {
  it('gives working defaults for the embedded local mode', () => {
    const config = parseConfig({});
    expect(config).toMatchObject({
      port: 8787,
      host: '127.0.0.1',
      medplum: undefined,
      maxBodyBytes: 1_048_576,
    });
  });

  it('reads a remote Medplum when all three settings are given', () => {
    const config = parseConfig({
      MEDPLUM_BASE_URL: 'https://api.medplum.com/',
      MEDPLUM_CLIENT_ID: 'id',
      MEDPLUM_CLIENT_SECRET: 'secret',
      PORT: '9000',
      PUBLIC_BASE_URL: 'https://sp.example.nhs.uk/',
    });
    expect(config.medplum).toEqual({
      baseUrl: 'https://api.medplum.com/',
      clientId: 'id',
      clientSecret: 'secret',
    });
    expect(config.port).toBe(9000);
    expect(config.publicBaseUrl).toBe('https://sp.example.nhs.uk');
  });

  it('reports every bad or missing setting at once, without echoing values', () => {
    const attempt = () =>
      parseConfig({
        PORT: 'eighty',
        MAX_BODY_BYTES: '-1',
        MEDPLUM_CLIENT_SECRET: 's3cr3t-value',
        LOG_LEVEL: 'loud',
      });
    expect(attempt).toThrow(ConfigError);
    try {
      attempt();
    } catch (err) {
      const problems = (err as ConfigError).problems.join('\n');
      for (const key of ['PORT', 'MAX_BODY_BYTES', 'LOG_LEVEL', 'MEDPLUM_BASE_URL', 'MEDPLUM_CLIENT_ID']) {
        expect(problems).toContain(key);
      }
      expect((err as Error).message).not.toContain('s3cr3t-value');
    }
  });

  it('requires Medplum settings on Workers', () => {
    expect(() => parseConfig({}, { requireMedplum: true })).toThrow(/MEDPLUM_BASE_URL/);
  });
});
