/**
 * `npm run keys -- client <clientId> <ODS code> [scope ...]`: a new ES384 key pair for an API
 * client. Writes the private JWK to `<clientId>.private-jwk.json` (for the client system only)
 * and prints the registration entry to add to the AUTH_CLIENTS registry.
 * `npm run keys -- signing-key`: a new private key for the facade's tokens (AUTH_SIGNING_KEY).
 */
import { writeFileSync } from 'node:fs';
import { exportJWK, generateKeyPair } from 'jose';
import { generateSigningKeyJwk } from '../src/auth/tokens.ts';

const [command, clientId, organization, ...scopes] = process.argv.slice(2);

if (command === 'signing-key') {
  console.log(JSON.stringify(await generateSigningKeyJwk()));
} else if (command === 'client' && clientId && organization) {
  const { publicKey, privateKey } = await generateKeyPair('ES384', { extractable: true });
  const kid = `${clientId}-${new Date().toISOString().slice(0, 10)}`;
  const file = `${clientId}.private-jwk.json`;
  writeFileSync(file, JSON.stringify({ ...(await exportJWK(privateKey)), kid, alg: 'ES384' }), {
    mode: 0o600,
    flag: 'wx',
  });
  const registration = {
    clientId,
    organization,
    scopes: scopes.length ? scopes : ['system/ServiceRequest.crs', 'system/*.rs'],
    jwks: { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES384', use: 'sig' }] },
  };
  console.error(`Private key written to ${file}: give it to the client system only.`);
  console.log(JSON.stringify(registration, null, 2));
} else {
  console.error('usage: npm run keys -- client <clientId> <ODS code> [scope ...] | signing-key');
  process.exit(2);
}
