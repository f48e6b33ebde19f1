/**
 * A subscriber's endpoint, for trying notifications: it checks each notification's X-Signature
 * (the hex HMAC-SHA256 of the body with the subscription's secret), drops repeats by their
 * X-Notification-ID, and prints what it got. It answers 200 to a notification it accepts, and 401
 * to one whose signature does not verify.
 *
 *   npm run receiver -- --secret <the subscription's secret> [--port 9911]
 *
 * Node only, and nothing but Node: a receiver written for Medplum's rest-hook subscriptions
 * verifies these the same way.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { secret: { type: 'string' }, port: { type: 'string', default: '9911' } },
});
if (!values.secret) {
  console.error('Usage: npm run receiver -- --secret <secret> [--port 9911]');
  process.exit(2);
}
const secret = values.secret;
const seen = new Set<string>();

function verified(body: string, signature: string | undefined): boolean {
  const expected = Buffer.from(createHmac('sha256', secret).update(body).digest('hex'));
  const given = Buffer.from(signature ?? '');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** One line on what a notification says: the resource and its status, or the event it numbers. */
function describe(body: string): string {
  if (!body) return 'no body (the subscription asks for none): read what changed';
  const resource = JSON.parse(body) as {
    resourceType: string;
    id?: string;
    status?: string;
    type?: string;
    entry?: {
      resource?: { parameter?: { name: string; part?: { name: string; valueString?: string }[] }[] };
      fullUrl?: string;
    }[];
  };
  if (resource.resourceType === 'Bundle' && resource.type === 'history') {
    const status = resource.entry?.[0]?.resource?.parameter ?? [];
    const event = status.find((p) => p.name === 'notification-event');
    const number = event?.part?.find((p) => p.name === 'event-number')?.valueString;
    return `event ${number ?? '?'}${resource.entry?.[1]?.fullUrl ? ` on ${resource.entry[1].fullUrl}` : ''}`;
  }
  return `${resource.resourceType}/${resource.id} is ${resource.status ?? '(no status)'}`;
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const id = String(req.headers['x-notification-id'] ?? '');
    if (!verified(body, req.headers['x-signature'] as string | undefined)) {
      console.log(`REFUSED ${id}: the signature does not verify`);
      res.writeHead(401).end();
      return;
    }
    if (seen.has(id)) {
      console.log(`repeat ${id}: already had it, dropped`);
    } else {
      seen.add(id);
      console.log(`verified ${id}: ${describe(body)}`);
    }
    res.writeHead(200).end();
  });
});
server.listen(Number(values.port), '127.0.0.1', () => {
  console.log(`Receiving notifications on http://127.0.0.1:${values.port}/ (signatures checked)`);
});
