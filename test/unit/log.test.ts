// The logger's redaction is defence in depth: a header map logged by mistake (at the top
// level, or one level down such as req.headers / res.headers) never shows a credential.
// The canonical request line goes through lineLogger, which skips redaction (its fields
// are fixed scalars) but keeps the destination, the level and the base fields.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger, lineLogger } from '../../src/log.js';
import { writeCanonicalLine, refusalRecord } from '../../src/proxy/record.js';
import { SidecarError } from '../../src/errors.js';

const SECRET = 'sk-live-SECRET-redaction-0123456789';

function capture(level = 'info'): { log: ReturnType<typeof createLogger>; lines: () => Array<Record<string, unknown>>; raw: () => string } {
  let raw = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      raw += chunk.toString('utf8');
      cb();
    },
  });
  const log = createLogger({ level, destination: sink as never });
  return { log, raw: () => raw, lines: () => raw.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

test('credential headers in a logged header map are redacted at the top level and one level down', async () => {
  const c = capture();
  const headers = { authorization: `Bearer ${SECRET}`, 'x-api-key': SECRET, cookie: `s=${SECRET}`, 'content-type': 'application/json' };
  c.log.info({ headers }, 'top');
  c.log.info({ req: { headers }, res: { headers: { 'set-cookie': SECRET } } }, 'nested');
  c.log.warn({ upstream: { headers: { 'proxy-authorization': `Basic ${SECRET}`, 'api-key': SECRET } } }, 'other');
  await flush();
  assert.ok(!c.raw().includes(SECRET), c.raw());
  const [top, nested, other] = c.lines();
  assert.equal((top!.headers as Record<string, string>).authorization, '[REDACTED]');
  assert.equal((top!.headers as Record<string, string>)['content-type'], 'application/json');
  assert.equal(((nested!.req as { headers: Record<string, string> }).headers)['x-api-key'], '[REDACTED]');
  assert.equal(((nested!.res as { headers: Record<string, string> }).headers)['set-cookie'], '[REDACTED]');
  assert.equal(((other!.upstream as { headers: Record<string, string> }).headers)['proxy-authorization'], '[REDACTED]');
  // The object the caller logged is left as it was.
  assert.equal(headers.authorization, `Bearer ${SECRET}`);
});

test('the canonical line is written to the same destination with the base fields, and keeps the level rules', async () => {
  const c = capture('info');
  const e = new SidecarError('BAD_TARGET');
  writeCanonicalLine(c.log, refusalRecord('absolute', 'api.example.com', 'GET', e), { parser: 'HPE_INVALID_METHOD' });
  writeCanonicalLine(c.log, { ...refusalRecord('absolute', null, 'GET', e), status: 503, code: 'VAULT_UNAVAILABLE' });
  await flush();
  const [a, b] = c.lines();
  assert.equal(a!.msg, 'request');
  assert.equal(a!.level, 'info');
  assert.equal(a!.service, 'sanctum-sidecar');
  assert.equal(a!.code, 'BAD_TARGET');
  assert.equal(a!.parser, 'HPE_INVALID_METHOD');
  assert.equal(b!.level, 'warn', '5xx lines are written at warn');

  const quiet = capture('warn');
  writeCanonicalLine(quiet.log, refusalRecord('absolute', null, 'GET', e));
  writeCanonicalLine(quiet.log, { ...refusalRecord('absolute', null, 'GET', e), status: 502 });
  await flush();
  assert.deepEqual(quiet.lines().map((l) => l.status), [502], 'at warn only the 5xx line is written');
});

test('lineLogger follows the level of its logger', () => {
  const c = capture('info');
  const line = lineLogger(c.log);
  assert.equal(lineLogger(c.log), line, 'one line logger per logger');
  assert.equal(line.isLevelEnabled('info'), true);
  c.log.level = 'error';
  assert.equal(lineLogger(c.log).isLevelEnabled('warn'), false);
});

test('every line carries an ISO-8601 time of when it was written', async () => {
  const c = capture();
  const before = Date.now();
  c.log.info('one');
  await new Promise((r) => setTimeout(r, 5));
  c.log.info('two');
  const after = Date.now();
  await flush();
  const [one, two] = c.lines();
  for (const l of [one!, two!]) {
    assert.match(String(l.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const t = Date.parse(String(l.time));
    assert.ok(t >= before && t <= after, `${String(l.time)} within the test`);
  }
  assert.ok(Date.parse(String(two!.time)) > Date.parse(String(one!.time)), 'a later line has a later time');
});
