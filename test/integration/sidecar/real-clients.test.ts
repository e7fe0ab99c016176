/**
 * Real clients through the sidecar as HTTP_PROXY: curl -x, undici ProxyAgent with
 * `proxyTunnel: false` (absolute-form), and Node's http with an absolute URL.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { request as httpRequest } from 'node:http';
import { ProxyAgent, request } from 'undici';
import { startStack, STANDARD_ROUTES, SECRETS, PLACEHOLDER, type Stack } from '../../helpers/stack.js';

const run = promisify(execFile);
let s: Stack;
before(async () => {
  s = await startStack({ routes: STANDARD_ROUTES });
});
after(() => s.close());

function lastCaptured(): (typeof s.echo.requests)[number] {
  return s.echo.requests[s.echo.requests.length - 1]!;
}

test('curl -x sends absolute-form and the credential is injected', async (t) => {
  const which = await run('sh', ['-c', 'command -v curl']).catch(() => null);
  if (which === null) {
    t.skip('curl is not installed');
    return;
  }
  const { stdout } = await run('curl', [
    '-sS',
    '-x',
    s.proxyUrl,
    '-H',
    `Authorization: Bearer ${PLACEHOLDER}`,
    '-w',
    '\n%{http_code}',
    'http://api.openai.com/v1/models?via=curl',
  ]);
  assert.ok(stdout.trim().endsWith('200'), stdout);
  const cap = lastCaptured();
  assert.equal(cap.url, '/v1/models?via=curl');
  assert.equal(cap.headers.authorization, `Bearer ${SECRETS.openai}`);
});

test('undici ProxyAgent with proxyTunnel:false injects the credential', async () => {
  const agent = new ProxyAgent({ uri: s.proxyUrl, proxyTunnel: false });
  try {
    const res = await request('http://api.openai.com/v1/models?via=undici', {
      dispatcher: agent,
      headers: { authorization: `Bearer ${PLACEHOLDER}` },
    });
    assert.equal(res.statusCode, 200);
    await res.body.dump();
    const cap = lastCaptured();
    assert.equal(cap.url, '/v1/models?via=undici');
    assert.equal(cap.headers.authorization, `Bearer ${SECRETS.openai}`);
  } finally {
    await agent.close();
  }
});

test("Node's http with an absolute URL path injects the credential", async () => {
  const status = await new Promise<number>((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port: s.proxyPort,
        method: 'POST',
        path: 'http://api.openai.com/v1/chat/completions',
        headers: { host: 'api.openai.com', authorization: `Bearer ${PLACEHOLDER}`, 'content-type': 'application/json' },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end('{"messages":[]}');
  });
  assert.equal(status, 200);
  const cap = lastCaptured();
  assert.equal(cap.method, 'POST');
  assert.equal(cap.url, '/v1/chat/completions');
  assert.equal(cap.body, '{"messages":[]}');
  assert.equal(cap.headers.authorization, `Bearer ${SECRETS.openai}`);
});
