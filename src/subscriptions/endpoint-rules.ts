/**
 * Where a notification may be sent. A subscription's endpoint is a URL its owner chose, and the
 * service will POST to it from inside its own network: without these rules a subscriber could make
 * the service call a database on a private address, a cloud metadata service, or itself. So: `https`
 * only, every address the name resolves to public, checked again before every delivery (a name can
 * be re-pointed after it was checked), and no redirects. Loopback is allowed only for trying the
 * service locally (`http` too, then). Pure: the resolving is the caller's.
 */

/** What kind of address an IP address is. */
export type AddressKind =
  | 'public'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'metadata'
  | 'unspecified'
  | 'multicast'
  | 'reserved';

/** Whether loopback endpoints are allowed (the open local mode, or SUBSCRIPTION_ALLOW_LOOPBACK). */
export interface EndpointPolicy {
  allowLoopback: boolean;
}

/** Cloud metadata services, by address: never a notification's destination. */
const METADATA_V4 = ['169.254.169.254', '169.254.170.2', '100.100.100.200'];
const METADATA_NAMES = [
  'metadata',
  'metadata.google.internal',
  'instance-data',
  'instance-data.ec2.internal',
];

type Range = [prefix: number[], bits: number, kind: AddressKind];

/** IPv4 ranges that are not public (RFC 6890 and its successors), most specific first. */
const V4_RANGES: Range[] = [
  [[0], 8, 'unspecified'],
  [[10], 8, 'private'],
  [[100, 64], 10, 'private'],
  [[127], 8, 'loopback'],
  [[169, 254], 16, 'link-local'],
  [[172, 16], 12, 'private'],
  [[192, 0, 0], 24, 'reserved'],
  [[192, 0, 2], 24, 'reserved'],
  [[192, 88, 99], 24, 'reserved'],
  [[192, 168], 16, 'private'],
  [[198, 18], 15, 'reserved'],
  [[198, 51, 100], 24, 'reserved'],
  [[203, 0, 113], 24, 'reserved'],
  [[224], 4, 'multicast'],
  [[240], 4, 'reserved'],
];

function inRange(bytes: readonly number[], prefix: readonly number[], bits: number): boolean {
  for (let i = 0; i < Math.ceil(bits / 8); i++) {
    const mask = i < Math.floor(bits / 8) ? 0xff : (0xff << (8 - (bits % 8))) & 0xff;
    if (((bytes[i] ?? 0) & mask) !== ((prefix[i] ?? 0) & mask)) return false;
  }
  return true;
}

function parseV4(text: string): number[] | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p))) return undefined;
  const bytes = parts.map(Number);
  return bytes.every((b) => b <= 255) ? bytes : undefined;
}

function v4Kind(bytes: readonly number[]): AddressKind {
  if (METADATA_V4.includes(bytes.join('.'))) return 'metadata';
  return V4_RANGES.find(([prefix, bits]) => inRange(bytes, prefix, bits))?.[2] ?? 'public';
}

/** The 16 bytes of an IPv6 address, or undefined when it is not one. */
function parseV6(text: string): number[] | undefined {
  let address = text;
  let tail: number[] = [];
  const lastColon = address.lastIndexOf(':');
  if (address.slice(lastColon + 1).includes('.')) {
    const v4 = parseV4(address.slice(lastColon + 1));
    if (!v4) return undefined;
    tail = v4;
    address = `${address.slice(0, lastColon + 1)}0:0`;
  }
  const halves = address.split('::');
  if (halves.length > 2) return undefined;
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  const head = groups(halves[0] as string);
  const rest = halves.length === 2 ? groups(halves[1] as string) : [];
  const missing = 8 - head.length - rest.length;
  if ((halves.length === 2 && missing < 1) || (halves.length === 1 && missing !== 0)) return undefined;
  const all = [...head, ...Array<string>(Math.max(missing, 0)).fill('0'), ...rest];
  if (!all.every((g) => /^[0-9a-f]{1,4}$/i.test(g))) return undefined;
  const bytes = all.flatMap((g) => {
    const n = Number.parseInt(g, 16);
    return [n >> 8, n & 0xff];
  });
  if (tail.length) bytes.splice(12, 4, ...tail);
  return bytes;
}

function v6Kind(bytes: readonly number[]): AddressKind {
  const zeroUpTo = (n: number) => bytes.slice(0, n).every((b) => b === 0);
  if (zeroUpTo(16)) return 'unspecified';
  if (zeroUpTo(15) && bytes[15] === 1) return 'loopback';
  // IPv4-mapped (::ffff:a.b.c.d), IPv4-translated (::ffff:0:a.b.c.d), IPv4-compatible (::a.b.c.d)
  // and NAT64 (64:ff9b::a.b.c.d): the IPv4 rules.
  const mapped = zeroUpTo(10) && bytes[10] === 0xff && bytes[11] === 0xff;
  const translated =
    zeroUpTo(8) && bytes[8] === 0xff && bytes[9] === 0xff && bytes[10] === 0 && bytes[11] === 0;
  const nat64 = inRange(bytes, [0, 0x64, 0xff, 0x9b], 96);
  if (mapped || translated || nat64 || zeroUpTo(12)) return v4Kind(bytes.slice(12));
  // Local-use NAT64 (64:ff9b:1::/48) reaches IPv4 addresses of a private network's choosing.
  if (inRange(bytes, [0, 0x64, 0xff, 0x9b, 0, 1], 48)) return 'reserved';
  if (inRange(bytes, [0xfc], 7)) return 'private';
  if (inRange(bytes, [0xfe, 0x80], 10)) return 'link-local';
  if (inRange(bytes, [0xfe, 0xc0], 10)) return 'private';
  if (inRange(bytes, [0xff], 8)) return 'multicast';
  // Documentation (2001:db8::/32), discard-only (100::/64), Teredo (2001::/32) and 6to4 (2002::/16).
  if (inRange(bytes, [0x20, 0x01, 0x0d, 0xb8], 32)) return 'reserved';
  if (inRange(bytes, [0x01, 0x00], 64)) return 'reserved';
  if (inRange(bytes, [0x20, 0x01, 0, 0], 32)) return 'reserved';
  if (inRange(bytes, [0x20, 0x02], 16)) return 'reserved';
  return 'public';
}

/** The kind of an IP address (IPv4 or IPv6, brackets allowed), or undefined for a name. */
export function addressKind(text: string): AddressKind | undefined {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const v4 = parseV4(bare);
  if (v4) return v4Kind(v4);
  const v6 = bare.includes(':') ? parseV6(bare.split('%')[0] as string) : undefined;
  return v6 ? v6Kind(v6) : undefined;
}

/** What a host name says of itself before it is resolved. */
function nameKind(host: string): AddressKind | undefined {
  const name = host.toLowerCase().replace(/\.$/, '');
  if (name === 'localhost' || name.endsWith('.localhost')) return 'loopback';
  if (METADATA_NAMES.includes(name)) return 'metadata';
  if (!name.includes('.') || name.endsWith('.local') || name.endsWith('.internal')) return 'private';
  return undefined;
}

const WHY: Record<Exclude<AddressKind, 'public'>, string> = {
  loopback:
    'a loopback address (allowed only in the open local mode or with SUBSCRIPTION_ALLOW_LOOPBACK=true)',
  private: 'a private network address',
  'link-local': 'a link-local address',
  metadata: "a cloud metadata service's address",
  unspecified: 'an unspecified address',
  multicast: 'a multicast address',
  reserved: 'a reserved address',
};

/** A refused endpoint, and why, in words for the subscriber. */
export interface EndpointRefusal {
  refused: string;
}

/** The endpoint as a URL, or why it is refused, before any name is resolved. */
export function checkEndpointUrl(text: string, policy: EndpointPolicy): URL | EndpointRefusal {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { refused: 'channel.endpoint is not an absolute URL' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return { refused: 'channel.endpoint must be an https URL' };
  }
  if (url.username || url.password) {
    return { refused: 'channel.endpoint must not carry a user name or password; use channel.header' };
  }
  const kind = addressKind(url.hostname) ?? nameKind(url.hostname);
  const refusal = kind ? kindRefusal(kind, policy) : undefined;
  if (refusal) return refusal;
  // Plain http to a name is left to the resolved addresses, which must then all be loopback.
  if (url.protocol === 'http:' && !(policy.allowLoopback && (kind === 'loopback' || kind === undefined))) {
    return { refused: 'channel.endpoint must be an https URL (plain http only to loopback, when allowed)' };
  }
  return url;
}

function kindRefusal(kind: AddressKind, policy: EndpointPolicy): EndpointRefusal | undefined {
  if (kind === 'public' || (kind === 'loopback' && policy.allowLoopback)) return undefined;
  return { refused: `channel.endpoint is ${WHY[kind]}` };
}

/**
 * What a refused name is told: one answer whether it does not resolve or resolves to an address
 * notifications are not sent to, so that subscribing is no way to map the names of a private
 * network.
 */
export const UNRESOLVED_OR_PRIVATE =
  "channel.endpoint's host name does not resolve to public addresses only (names that do not resolve, or resolve to private, loopback, link-local, metadata or reserved addresses, are refused)";

/**
 * Why an endpoint whose name resolved to these addresses is refused, if it is: every address must
 * be public (or loopback, when allowed); plain http only when every one is loopback.
 */
export function checkResolved(
  url: URL,
  addresses: readonly string[],
  policy: EndpointPolicy,
): EndpointRefusal | undefined {
  const kinds = addresses.map((a) => addressKind(a) ?? 'reserved');
  if (kinds.length === 0 || kinds.some((kind) => kindRefusal(kind, policy)))
    return { refused: UNRESOLVED_OR_PRIVATE };
  if (url.protocol === 'http:' && !kinds.every((k) => k === 'loopback')) {
    return { refused: 'channel.endpoint must be an https URL (plain http only to loopback, when allowed)' };
  }
  return undefined;
}

export function isRefusal(value: unknown): value is EndpointRefusal {
  return typeof (value as EndpointRefusal | undefined)?.refused === 'string';
}
