/**
 * The layering, enforced: routes → use cases → mapping/FHIR → the Medplum port, never back up.
 *   HTTP layer:  src/routes, src/http, src/middleware
 *   use cases:   src/resources, src/referrals, src/care-plans, src/directory, src/subscriptions, src/workflow (what they share), src/auth, src/audit
 *   domain/FHIR: src/fhir, src/mapping, src/schemas
 *   port:        src/medplum (the only code that talks to Medplum)
 *   outbox:      src/outbox (work after the response: a SQLite table on Node, a Queue on Workers)
 * Entry points (src/app.ts, src/node.ts, src/worker.ts) wire the layers and may import any;
 * src/edge (the Worker's wiring and its Durable Objects) belongs with them.
 */
const HTTP = '^src/(routes|http|middleware)/';
const USE_CASES = '^src/(resources|referrals|care-plans|directory|subscriptions|workflow|auth|audit)/';
const DOMAIN = '^src/(fhir|mapping|schemas)/';
const PORT = '^src/medplum/';
const ENTRIES = '^src/(app|node|worker)\\.ts$';
const EDGE = '^src/edge/';

module.exports = {
  forbidden: [
    {
      name: 'port-stays-at-the-bottom',
      comment: 'src/medplum/ knows Medplum only; it never reaches up into the service.',
      severity: 'error',
      from: { path: PORT },
      to: { path: '^src/', pathNot: [PORT, '^src/sqlite-file\\.ts$'] },
    },
    {
      name: 'domain-does-not-reach-up',
      comment: 'FHIR and mapping code is pure: no HTTP, no use cases.',
      severity: 'error',
      from: { path: DOMAIN },
      to: { path: [HTTP, USE_CASES, ENTRIES] },
    },
    {
      name: 'domain-has-no-framework',
      severity: 'error',
      from: { path: [DOMAIN, USE_CASES, PORT], pathNot: '^src/medplum/embedded/' },
      to: { path: '^node_modules/hono/' },
      comment: 'Use cases, FHIR and the port must not depend on Hono (the embedded server is the exception).',
    },
    {
      name: 'use-cases-do-not-know-http',
      severity: 'error',
      from: { path: USE_CASES },
      to: { path: [HTTP, ENTRIES] },
    },
    {
      name: 'http-goes-through-use-cases',
      comment: 'Routes call use cases and map the port error types; they never call the port.',
      severity: 'error',
      from: { path: HTTP },
      to: { path: PORT },
    },
    {
      name: 'fhir-router-only-in-embedded',
      comment: "Medplum's router and in-memory repository are the embedded store, nothing else.",
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/medplum/embedded/' },
      to: { path: '^node_modules/@medplum/fhir-router/' },
    },
    {
      name: 'edge-is-wiring',
      comment:
        "src/edge is wiring (the Worker's, and its Durable Objects): only entries and src/edge import it.",
      severity: 'error',
      from: { path: '^src/', pathNot: [ENTRIES, EDGE] },
      to: { path: EDGE },
    },
    {
      name: 'worker-stays-edge-safe',
      comment: 'The Worker bundle must not pull in the embedded store or Node-only modules.',
      severity: 'error',
      from: { path: ['^src/worker\\.ts$', EDGE] },
      to: { path: ['^src/medplum/embedded/', '^node_modules/@medplum/(fhir-router|definitions)/'] },
    },
    {
      name: 'outbox-knows-only-itself',
      comment: "The outbox carries messages; what they are for is its callers' business.",
      severity: 'error',
      from: { path: '^src/outbox/' },
      to: { path: '^src/', pathNot: ['^src/outbox/', '^src/logger\\.ts$', '^src/sqlite-file\\.ts$'] },
    },
    {
      name: 'worker-never-reaches-node-only-code',
      comment: 'Nothing the Worker bundles may lead, however indirectly, to node:sqlite or the code on it.',
      severity: 'error',
      from: { path: '^src/worker\\.ts$' },
      to: {
        path: [
          '^(node:)?sqlite$',
          '^src/outbox/sqlite',
          '^src/medplum/embedded/',
          '^src/subscriptions/node-sender\\.ts$',
          '^node_modules/undici/',
        ],
        reachable: true,
      },
    },
    {
      name: 'nothing-imports-entries',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^src/(node|worker)\\.ts$' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    parser: 'swc',
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.json'] },
    exclude: { path: '\\.json$' },
  },
};
