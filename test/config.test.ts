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

  it('on Node with clients, takes the loopback address it listens on as the base URL, and nothing wider', () => {
    const node = { loopbackBaseUrl: true };
    const clients = { AUTH_CLIENTS_FILE: 'clients.json', PORT: '9001' };
    expect(parseConfig(clients, node).publicBaseUrl).toBe('http://127.0.0.1:9001');
    expect(parseConfig({ ...clients, HOST: '::1' }, node).publicBaseUrl).toBe('http://[::1]:9001');
    expect(parseConfig({ ...clients, HOST: 'localhost' }, node).publicBaseUrl).toBe('http://localhost:9001');
    expect(() => parseConfig({ ...clients, HOST: '0.0.0.0' }, node)).toThrow(ConfigError);
    expect(() => parseConfig({ ...clients, HOST: '0.0.0.0' }, node)).toThrow(/PUBLIC_BASE_URL/);
    const wide = { ...clients, HOST: '0.0.0.0', PUBLIC_BASE_URL: 'https://sp.example.nhs.uk/' };
    expect(parseConfig(wide, node).publicBaseUrl).toBe('https://sp.example.nhs.uk');
    // PUBLIC_BASE_URL wins on loopback too; without clients, nothing is assumed.
    expect(parseConfig({ ...wide, HOST: '127.0.0.1' }, node).publicBaseUrl).toBe('https://sp.example.nhs.uk');
    expect(parseConfig({ PORT: '9001' }, node).publicBaseUrl).toBeUndefined();
  });

  it('reports a missing PUBLIC_BASE_URL together with the other problems', () => {
    const attempt = () =>
      parseConfig({ AUTH_CLIENTS: '{}', HOST: '0.0.0.0', PORT: 'eighty' }, { loopbackBaseUrl: true });
    expect(attempt).toThrow(ConfigError);
    try {
      attempt();
    } catch (err) {
      const problems = (err as ConfigError).problems.join('\n');
      expect(problems).toContain('PORT');
      expect(problems).toContain('PUBLIC_BASE_URL');
    }
  });

  it('requires Medplum settings on Workers', () => {
    expect(() => parseConfig({}, { requireMedplum: true })).toThrow(/MEDPLUM_BASE_URL/);
  });
});
