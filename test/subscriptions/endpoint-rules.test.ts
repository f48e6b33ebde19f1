import { describe, expect, it } from 'vitest';
import {
  addressKind,
  checkEndpointUrl,
  checkResolved,
  isRefusal,
  UNRESOLVED_OR_PRIVATE,
} from '../../src/subscriptions/endpoint-rules.ts';

const open = { allowLoopback: true };
const closed = { allowLoopback: false };

describe('addressKind', () => {
  it.each([
    ['8.8.8.8', 'public'],
    ['93.184.216.34', 'public'],
    ['127.0.0.1', 'loopback'],
    ['127.9.9.9', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['172.32.0.1', 'public'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'],
    ['169.254.1.1', 'link-local'],
    ['169.254.169.254', 'metadata'],
    ['0.0.0.0', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'link-local'],
    ['fd00:ec2::254', 'private'],
    ['fc00::1', 'private'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['64:ff9b::10.0.0.1', 'private'],
    ['2001:db8::1', 'reserved'],
    ['::ffff:0:7f00:1', 'loopback'],
    ['::ffff:0:a9fe:a9fe', 'metadata'],
    ['64:ff9b:1::a00:1', 'reserved'],
    ['2606:4700:4700::1111', 'public'],
    ['ff02::1', 'multicast'],
  ])('%s is %s', (address, kind) => {
    expect(addressKind(address)).toBe(kind);
  });

  it('reads a name as no address', () => {
    expect(addressKind('example.org')).toBeUndefined();
    expect(addressKind('1.2.3')).toBeUndefined();
    expect(addressKind('256.1.1.1')).toBeUndefined();
    expect(addressKind('1:2:3')).toBeUndefined();
  });
});

describe('checkEndpointUrl', () => {
  it('takes an https URL with a public name or address', () => {
    expect(isRefusal(checkEndpointUrl('https://gp.example.org/hooks/fhir', closed))).toBe(false);
    expect(isRefusal(checkEndpointUrl('https://93.184.216.34/hook', closed))).toBe(false);
  });

  it.each([
    ['http://gp.example.org/hook', /https/],
    ['ftp://gp.example.org/hook', /https/],
    ['not a url', /absolute URL/],
    ['https://user:pw@gp.example.org/', /user name or password/],
    ['https://10.0.0.5/hook', /private network/],
    ['https://169.254.169.254/latest/meta-data', /metadata/],
    ['https://metadata.google.internal/', /metadata/],
    ['https://[fe80::1]/', /link-local/],
    ['https://intranet/', /private/],
    ['https://printer.local/', /private/],
    ['https://127.0.0.1/', /loopback/],
    ['https://localhost:9000/', /loopback/],
    // Other spellings of the same addresses, which the URL parser writes out in full.
    ['https://2130706433/', /loopback/],
    ['https://0x7f.1/', /loopback/],
    ['https://017700000001/', /loopback/],
    ['https://localhost./', /loopback/],
    ['https://[0:0:0:0:0:ffff:a9fe:a9fe]/', /metadata/],
    ['https://0/', /unspecified/],
  ])('refuses %s outside the local mode', (url, why) => {
    const result = checkEndpointUrl(url, closed);
    expect(isRefusal(result) && result.refused).toMatch(why);
  });

  it('takes loopback, by http too, only when allowed', () => {
    expect(isRefusal(checkEndpointUrl('http://127.0.0.1:9000/hook', open))).toBe(false);
    expect(isRefusal(checkEndpointUrl('http://localhost:9000/hook', open))).toBe(false);
    expect(isRefusal(checkEndpointUrl('http://127.0.0.1:9000/hook', closed))).toBe(true);
    // Allowing loopback allows nothing else: plain http to a name waits for what it resolves to.
    expect(isRefusal(checkEndpointUrl('http://93.184.216.34/hook', open))).toBe(true);
    const plainName = checkEndpointUrl('http://gp.example.org/hook', open) as URL;
    expect(checkResolved(plainName, ['93.184.216.34'], open)?.refused).toMatch(/https/);
    expect(checkResolved(plainName, ['127.0.0.1'], open)).toBeUndefined();
    expect(isRefusal(checkEndpointUrl('https://192.168.0.1/hook', open))).toBe(true);
  });
});

describe('checkResolved', () => {
  const url = new URL('https://gp.example.org/hook');

  it('takes a name whose every address is public', () => {
    expect(checkResolved(url, ['93.184.216.34', '2606:4700:4700::1111'], closed)).toBeUndefined();
  });

  it('refuses a name with any address that is not, saying the same whatever the address or none', () => {
    for (const addresses of [['93.184.216.34', '10.0.0.1'], ['127.0.0.1'], ['fd00::1'], []]) {
      expect(checkResolved(url, addresses, closed)?.refused).toBe(UNRESOLVED_OR_PRIVATE);
    }
    expect(checkResolved(url, ['169.254.169.254'], open)?.refused).toBe(UNRESOLVED_OR_PRIVATE);
  });

  it('takes loopback when allowed, and plain http only when it is all loopback', () => {
    expect(checkResolved(url, ['127.0.0.1'], open)).toBeUndefined();
    const plain = new URL('http://localhost:9000/');
    expect(checkResolved(plain, ['127.0.0.1', '::1'], open)).toBeUndefined();
    expect(checkResolved(plain, ['127.0.0.1', '93.184.216.34'], open)?.refused).toMatch(/https/);
  });
});
