/**
 * The routes.yaml validator is ajv's code generated ahead of time (scripts/routes-validator.mjs,
 * issue 19: compiling it at start-up kept 6-7 MiB resident). It must be exactly what ajv
 * generates from the current schema, and it must judge as a freshly compiled ajv would.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { GENERATED, generateRoutesValidator } from '../../../scripts/routes-validator.mjs';
import { ROUTES_SCHEMA } from '../../../src/config/schema.js';
import generated from '../../../src/config/routes-validator.gen.js';

test('the committed validator is what ajv generates from the current schema (regenerate: node --import tsx scripts/routes-validator.mjs)', () => {
  assert.equal(readFileSync(GENERATED, 'utf8'), generateRoutesValidator(ROUTES_SCHEMA));
});

test('it accepts and refuses as ajv compiling the schema does, with the same errors', () => {
  const ajv = new Ajv({ allErrors: true, strict: true, verbose: true, allowUnionTypes: true });
  ajv.addKeyword({ keyword: 'x-message', schemaType: 'string' });
  const compiled = ajv.compile(ROUTES_SCHEMA);
  const validate = generated as unknown as typeof compiled;
  const samples: unknown[] = [
    { version: 1, vault: { agent: 'a' } },
    { version: 2, vault: { agent: '' }, bogus: true },
    { version: 1, vault: { agent: 'a', timeout: [] }, routes: [{ name: 'Bad Name', match: { port: 0, methods: ['G E T'] }, credential: 'x//y' }] },
    { version: 1, vault: { agent: 'a' }, agents: [{ name: 'x', token_sha256: 'nothex', routes: 'r' }] },
    'not a mapping',
  ];
  for (const s of samples) {
    const ok = compiled(s);
    assert.equal(validate(s), ok, JSON.stringify(s));
    const strip = (e: typeof compiled.errors): unknown => (e ?? []).map((x) => ({ ...x, data: undefined }));
    assert.deepEqual(strip(validate.errors), strip(compiled.errors), JSON.stringify(s));
  }
});
