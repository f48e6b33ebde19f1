import pkg from '../package.json' with { type: 'json' };

export const SOFTWARE = { name: 'social-prescribing-fhir-facade', version: pkg.version } as const;
