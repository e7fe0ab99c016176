/**
 * The metrics operators alert on exist from the first scrape: a scrape straight after
 * start shows every counter whose labels the config knows at 0 (so `increase()` sees
 * the first event), build_info, the in-flight and open-connection gauges and the CA
 * expiry; a reload declares the new config's series; the gauges follow a request
 * that hangs upstream and return to 0 when it ends.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Client, request } from 'undici';
import { viaProxy } from '../../helpers/gateway.js';
import { fullSurfaceYaml, parseScrape, startFullSurface, type FullSurface } from '../../helpers/full-surface.js';
import { pollUntil } from '../../helpers/sidecar-rig.js';

let f: FullSurface;
before(async () => {
  f = await startFullSurface();
});
after(() => f.close());

async function scrape(): Promise<Map<string, number>> {
  const res = await request(`${f.gw.adminUrl}/metrics`);
  return parseScrape(await res.body.text());
}

const P = 'sanctum_sidecar_';

test('a scrape straight after start shows the zero series, build info and the CA expiry', async () => {
  const m = await scrape();
  const zeros = [
    `${P}injections_total{route="openai",result="injected"}`,
    `${P}injections_total{route="openai",result="replaced_agent_header"}`,
    `${P}injections_total{route="openai",result="failed"}`,
    `${P}credential_cache_events_total{route="openai",event="hit"}`,
    `${P}credential_cache_events_total{route="openai",event="miss"}`,
    `${P}credential_cache_events_total{route="openai",event="coalesced"}`,
    `${P}bytes_total{route="openai",direction="in"}`,
    `${P}bytes_total{route="stripe",direction="out"}`,
    `${P}vault_requests_total{operation="http_header",result="ok"}`,
    `${P}vault_requests_total{operation="http_request",result="ok"}`,
    `${P}tripwires_total{agent="alpha",kind="placeholder"}`,
    `${P}tripwires_total{agent="alpha",kind="proxy_token"}`,
    `${P}tripwires_total{agent="batch",kind="placeholder"}`,
    `${P}rate_limited_total{agent="alpha",route="openai"}`,
    `${P}rate_limited_total{agent="alpha",route="stripe"}`,
    `${P}rate_limited_total{agent="alpha",route="none"}`, // alpha's own limit covers passthrough (egress.allow)
    `${P}rate_limited_total{agent="batch",route="openai"}`, // the route's limit, for every agent that may use it
    `${P}config_reloads_total{result="success"}`,
    `${P}config_reloads_total{result="error"}`,
    `${P}tunnels_total{outcome="intercept"}`,
    `${P}tunnels_total{outcome="refused"}`,
    `${P}denied_requests_total{reason="NO_ROUTE"}`,
    `${P}denied_requests_total{reason="TRIPWIRE"}`,
    `${P}denied_requests_total{reason="RATE_LIMITED"}`,
    `${P}requests_in_flight`,
    `${P}open_connections{listener="proxy"}`,
    `${P}open_connections{listener="agent"}`,
  ];
  for (const s of zeros) assert.equal(m.get(s), 0, `${s} is exported at 0`);
  // Pairs no limit applies to are not invented: batch has no limit of its own, stripe none per route.
  assert.equal(m.has(`${P}rate_limited_total{agent="batch",route="none"}`), false);
  // Delegate routes do not use the credential cache or the injection counter.
  assert.equal(m.has(`${P}injections_total{route="stripe",result="injected"}`), false);
  assert.ok((m.get(`${P}open_connections{listener="admin"}`) ?? 0) >= 1, 'this scrape is an open admin connection');

  const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../../package.json', import.meta.url)), 'utf8')) as { version: string };
  assert.equal(m.get(`${P}build_info{version="${pkg.version}",node="${process.versions.node}"}`), 1);

  const cert = new X509Certificate(readFileSync(f.pki.caFile));
  assert.equal(m.get(`${P}ca_certificate_expiry_timestamp_seconds`), Date.parse(cert.validTo) / 1000);
});

test('in-flight requests and open connections follow a request that hangs upstream', async () => {
  const client = new Client(f.gw.proxyUrl);
  const batch = f.gw.sidecar.agentListener('batch')!;
  const batchClient = new Client(`http://127.0.0.1:${batch.port}`);
  const ac = new AbortController();
  const auth = `Basic ${Buffer.from(`alpha:${f.token}`).toString('base64')}`;
  const hanging = [
    viaProxy(client, 'http://api.openai.com/v1/hang', { auth, signal: ac.signal }).catch(() => null),
    viaProxy(batchClient, 'http://api.openai.com/v1/hang', { signal: ac.signal }).catch(() => null),
  ];
  try {
    const seen = await pollUntil(async () => {
      const m = await scrape();
      return (
        m.get(`${P}requests_in_flight`) === 2 &&
        m.get(`${P}open_connections{listener="proxy"}`) === 1 &&
        m.get(`${P}open_connections{listener="agent"}`) === 1
      );
    }, 25, 200);
    assert.ok(seen >= 0, 'two requests in flight, one connection on the proxy listener and one on batch\'s listener');
  } finally {
    ac.abort();
    await Promise.all(hanging);
    await client.close();
    await batchClient.close();
  }
  const back = await pollUntil(async () => {
    const m = await scrape();
    return m.get(`${P}requests_in_flight`) === 0 && m.get(`${P}open_connections{listener="proxy"}`) === 0 && m.get(`${P}open_connections{listener="agent"}`) === 0;
  }, 25, 200);
  assert.ok(back >= 0, 'the gauges return to 0 when the requests and connections end');
});

test('a reload declares the new routes\' series at 0, and the first event then counts from 0', async () => {
  const extra = `
  - name: plain
    match: { host: plain.example }
    upstream: \${ECHO}
    allow_plaintext: true
    rate_limit: { requests: 10, per: second }`;
  await f.gw.reload(fullSurfaceYaml(f.pki, f.token, extra).replace('routes: [openai, stripe]', 'routes: [openai, stripe, plain]'));
  let m = await scrape();
  assert.equal(m.get(`${P}config_reloads_total{result="success"}`), 1);
  assert.equal(m.get(`${P}bytes_total{route="plain",direction="in"}`), 0);
  assert.equal(m.get(`${P}rate_limited_total{agent="alpha",route="plain"}`), 0);
  assert.equal(m.has(`${P}injections_total{route="plain",result="injected"}`), false, 'no credential, no injection series');

  // alpha's placeholder bound for a route without a credential trips: the series goes 0 → 1.
  const client = new Client(f.gw.proxyUrl);
  try {
    const auth = `Basic ${Buffer.from(`alpha:${f.token}`).toString('base64')}`;
    const r = await viaProxy(client, 'http://plain.example/x', { auth, headers: { 'x-key': 'sk-alpha-placeholder' } });
    assert.equal(r.status, 403);
    assert.equal(r.headers['x-sanctum-error'], 'TRIPWIRE');
  } finally {
    await client.close();
  }
  m = await scrape();
  assert.equal(m.get(`${P}tripwires_total{agent="alpha",kind="placeholder"}`), 1);
  assert.equal(m.get(`${P}denied_requests_total{reason="TRIPWIRE"}`), 1);
});
