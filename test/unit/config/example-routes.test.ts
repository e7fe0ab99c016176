// The shipped example routes.yaml (what `sanctum-sidecar dev` runs) and the README's
// reference block must both load, and the example must route the way the README says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfigFile, parseConfig } from '../../../src/config/load.js';
import { RouteTable } from '../../../src/routing/matcher.js';
import { parseAbsoluteTarget } from '../../../src/routing/target.js';

const root = join(import.meta.dirname, '../../..');

test('the example routes.yaml loads and routes each documented use', async () => {
  const c = await loadConfigFile(join(root, 'routes.yaml'), { HOME: '/home/u', SANCTUM_DEV_ECHO: 'http://127.0.0.1:45678' });
  assert.deepEqual(c.routes.map((r) => r.name), ['echo', 'openai', 'anthropic', 'github', 'stripe']);
  assert.equal(c.vault.socket, join(root, '.sanctum/vault.sock'));
  const t = new RouteTable(c.routes, c.egress);
  const viaHost = (m: string, url: string) => {
    const r = t.matchHost(m, parseAbsoluteTarget(url));
    return r.kind === 'route' ? `${r.route.name} ${r.route.upstream.origin}${r.upstreamPath}` : r.kind === 'deny' ? r.code : r.kind;
  };
  const viaPrefix = (m: string, path: string) => {
    const r = t.matchPrefix(m, path);
    return r === null ? 'null' : r.kind === 'route' ? `${r.route.name} ${r.route.upstream.origin}${r.upstreamPath}` : r.kind;
  };
  assert.equal(viaHost('POST', 'http://api.openai.com/v1/chat/completions'), 'openai https://api.openai.com/v1/chat/completions');
  assert.equal(viaPrefix('POST', '/openai/v1/chat/completions'), 'openai https://api.openai.com/v1/chat/completions');
  assert.equal(viaPrefix('POST', '/anthropic/v1/messages'), 'anthropic https://api.anthropic.com/v1/messages');
  assert.equal(viaHost('GET', 'http://api.github.com/user'), 'github https://api.github.com/user');
  assert.equal(viaHost('POST', 'http://api.stripe.com/v1/charges'), 'stripe https://api.stripe.com/v1/charges');
  assert.equal(viaHost('DELETE', 'http://api.stripe.com/v1/charges'), 'METHOD_DENIED');
  assert.equal(viaHost('GET', 'http://echo.local/hello'), 'echo http://127.0.0.1:45678/hello');
  assert.equal(viaPrefix('GET', '/echo/hello'), 'echo http://127.0.0.1:45678/hello');
  assert.equal(viaHost('GET', 'http://pypi.org/simple/requests/'), 'passthrough');
  assert.equal(viaHost('GET', 'http://example.com/'), 'NO_ROUTE');
  const anthropic = c.routes.find((r) => r.name === 'anthropic')!;
  assert.deepEqual(anthropic.inject, { headerType: 'custom', headerName: 'x-api-key' });
  assert.equal(c.routes.find((r) => r.name === 'stripe')!.mode, 'delegate');
});

test('the example routes.yaml loads without the dev environment (sanctum-sidecar check routes.yaml)', async () => {
  const c = await loadConfigFile(join(root, 'routes.yaml'), {});
  assert.equal(c.routes.find((r) => r.name === 'echo')!.upstream.origin, 'http://127.0.0.1:8081');
});

test("the README's routes.yaml reference block is a valid configuration", (t) => {
  let readme: string;
  try {
    readme = readFileSync(join(root, 'README.md'), 'utf8');
  } catch {
    t.skip('no README.md');
    return;
  }
  const block = /## routes\.yaml reference\s+```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
  if (block === undefined) {
    t.skip('README has no routes.yaml reference block');
    return;
  }
  const c = parseConfig(block, 'README.md', { HOME: '/home/u' });
  assert.ok(c.routes.length > 0);
});
