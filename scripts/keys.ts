/**
 * `npm run keys -- client <clientId> <ODS code> [scope ...]`: a new ES384 key pair for an API
 * client. Writes the private JWK to `.keys/<clientId>.private-jwk.json` (for the client system
 * only; `.keys/` is git-ignored and made readable by its owner alone, so `git add .` never takes
 * it) and prints the registration entry to add to the AUTH_CLIENTS registry.
 * `npm run keys -- signing-key`: a new private key for the facade's tokens (AUTH_SIGNING_KEY).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { exportJWK, generateKeyPair } from 'jose';
import { generateSigningKeyJwk } from '../src/auth/tokens.ts';

/** Where private keys are written: outside anything git tracks. */
const KEY_DIR = '.keys';

const [command, clientId, organization, ...scopes] = process.argv.slice(2);

if (command === 'signing-key') {
  console.log(JSON.stringify(await generateSigningKeyJwk()));
} else if (command === 'client' && clientId && organization) {
  const { publicKey, privateKey } = await generateKeyPair('ES384', { extractable: true });
  const kid = `${clientId}-${new Date().toISOString().slice(0, 10)}`;
  if (!/^[A-Za-z0-9._-]+$/.test(clientId)) {
    console.error('The client id may hold letters, digits, ".", "_" and "-" only');
    process.exit(2);
  }
  mkdirSync(KEY_DIR, { recursive: true, mode: 0o700 });
  const file = `${KEY_DIR}/${clientId}.private-jwk.json`;
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
