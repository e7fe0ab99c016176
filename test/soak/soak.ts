/**
 * `npm run soak [-- --minutes N]`: mixed traffic against a sidecar in its own process
 * for N minutes (default 10), all on loopback:
 *
 *   success    absolute-form GETs (HTTP_PROXY style) and prefix-form POSTs with bodies
 *   deny       unrouted hosts (403) and dot-segment paths (400)
 *   streaming  server-sent events read to the end, some abandoned mid-stream
 *   tunnels    CONNECT to a routed host with plain HTTP inside, and byte tunnels to an
 *              allow-listed host
 *   vault      a blip every minute: the vault is stopped for 1.5 s, then restarted
 *
 * The sidecar runs as it ships (shipped-sidecar.ts): the built dist/ (rebuilt when older
 * than src/), the node flags and environment of the binary and the image, the
 * NODE_OPTIONS the Helm chart sets for its default memory limit, on the node given by
 * --node or $SANCTUM_NODE, else the pinned Node 24 the image ships (any other node is
 * warned about loudly). The first line says what runs.
 *
 * Every minute it prints the sidecar's RSS (anonymous and file-backed), heap, handles
 * and open connections. At the end it judges the memory targets: idle after start
 * RSS <= 80 MiB; steady state under load (every sample after warm-up) <= 128 MiB; RSS
 * growth after warm-up (mean of the 30 s after warm-up vs. the last 30 s) < 5 %. It
 * also checks, throughout, that every upstream request carried exactly its own route's
 * credential (none on passthrough and byte tunnels), that no answer to the agent carried
 * a credential, that every answer was one the scenario allows, that no log line carries
 * a credential, and that SIGTERM drains and exits 0. Exit code 0 only when all holds.
 *
 * Options: --minutes N (fractions allowed), --warmup MINUTES (default 1, or a third of
 * a shorter run), --concurrency N (default 8), --blip-every SECONDS (default 60),
 * --node PATH (default $SANCTUM_NODE, else the pinned Node 24 of scripts/node24.mjs),
 * --node-options STR (NODE_OPTIONS for the sidecar; default: the chart's, from its default
 * memory limit; '' for none), --node-flags 'F ...' (extra node flags after the shipped
 * ones: experiments only, not what ships).
 */
import { createReadStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Agent, ProxyAgent, request } from 'undici';
import { SHIPPED_ENV, chartDefaults, ensureDist, resolveNode } from '../../scripts/shipped-runtime.mjs';
import { startCaptureUpstream, type CaptureUpstream, type CapturedRequest } from '../helpers/capture-upstream.js';
import { RIG_AGENT, startRestartableVault } from '../helpers/sidecar-rig.js';
import { SECRETS } from '../helpers/stack.js';
import { converse, parseResponses } from '../helpers/wire.js';
import { shippedCommand, startShippedSidecar, type SidecarStats } from './shipped-sidecar.js';

const { values: opt } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    warmup: { type: 'string' },
    concurrency: { type: 'string', default: '8' },
    'blip-every': { type: 'string', default: '60' },
    node: { type: 'string' },
    'node-options': { type: 'string' },
    'node-flags': { type: 'string' },
  },
});
const MINUTES = Number(opt.minutes);
const WARMUP_MIN = opt.warmup !== undefined ? Number(opt.warmup) : Math.min(1, MINUTES / 3);
const CONCURRENCY = Math.max(1, Math.floor(Number(opt.concurrency)));
const BLIP_EVERY_S = Number(opt['blip-every']);
if (!(MINUTES > 0) || !(WARMUP_MIN >= 0) || WARMUP_MIN >= MINUTES || !(BLIP_EVERY_S > 2)) {
  console.error('usage: npm run soak -- [--minutes N] [--warmup MINUTES] [--concurrency N] [--blip-every SECONDS] [--node PATH] [--node-options STR] [--node-flags "F ..."]');
  process.exit(2);
}
const DURATION_MS = MINUTES * 60_000;
const WARMUP_MS = WARMUP_MIN * 60_000;
const SAMPLE_MS = 2_000;
const WINDOW_MS = 30_000;
const MiB = 1024 * 1024;
/** The memory targets (issue 19), on the runtime the image ships. */
const TARGET = { idleRss: 80 * MiB, steadyRss: 128 * MiB, growth: 0.05 } as const;

// --- what runs: the built dist/, the shipped flags, the chosen node --------------------------
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const node = resolveNode(opt.node);
const extraFlags = (opt['node-flags'] ?? '').split(/\s+/).filter(Boolean);
const chart = chartDefaults(ROOT);
const nodeOptions = opt['node-options'] ?? chart.nodeOptions;
{
  const cmd = shippedCommand({ node: node.path, entry: join(ROOT, 'dist', 'main.js'), configPath: '<routes.yaml>', logPath: '', extraFlags });
  const shown = [`node ${node.version} (${cmd[0]})`, ...cmd.slice(1).map((a) => (a.startsWith(ROOT) ? relative(ROOT, a) : a))];
  const env = Object.entries(SHIPPED_ENV).map(([k, v]) => `${k}=${v}`).join(' ');
  const why = opt['node-options'] === undefined ? ` (the chart's, for its default limit ${chart.limit})` : ' (--node-options)';
  console.log(`[soak] sidecar as shipped: ${shown.join(' ')}; ${env ? `${env}, ` : ''}NODE_OPTIONS ${nodeOptions ? `${JSON.stringify(nodeOptions)}${why}` : 'unset'}`);
  if (node.warning) console.log(`[soak] ${node.warning}`);
  if (extraFlags.length) console.log(`[soak] EXPERIMENT: extra node flags ${extraFlags.join(' ')} are not what ships`);
}
const { entry } = ensureDist(ROOT, (l) => console.log(`[soak] ${l}`));

// --- bookkeeping ---------------------------------------------------------------------------
const violations: string[] = [];
function violation(msg: string): void {
  if (violations.length < 50) violations.push(msg);
  else if (violations.length === 50) violations.push('... (more violations not shown)');
}
const outcome: Record<string, number> = {};
let minuteCount: Record<string, number> = {};
function count(key: string): void {
  outcome[key] = (outcome[key] ?? 0) + 1;
  minuteCount[key] = (minuteCount[key] ?? 0) + 1;
}
let vaultDown = false;
let vaultDownSince = 0;
/** Vault failures are allowed while the vault is down and for a few seconds after (reconnect backoff). */
function vaultFailureAllowed(): boolean {
  return vaultDown || performance.now() - vaultDownSince < 8_000;
}
function checkNoSecret(text: string, where: string): void {
  for (const [name, v] of Object.entries(SECRETS)) if (text.includes(v)) violation(`${where}: the ${name} credential came back to the agent`);
}

// --- PRNG (seeded, so a run's mix is reproducible) -------------------------------------------
let seed = 0x5eed;
function rand(): number {
  seed |= 0;
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

// --- the stack -----------------------------------------------------------------------------
const EXPECTED: Record<string, string | null> = {
  openai: `authorization: Bearer ${SECRETS.openai}`,
  anthropic: `x-api-key: ${SECRETS.anthropic}`,
  sentinel: null,
};
function checkUpstream(r: CapturedRequest): void {
  const creds: string[] = [];
  for (let i = 0; i < r.rawHeaders.length; i += 2) {
    const n = r.rawHeaders[i]!.toLowerCase();
    if (n === 'authorization' || n === 'x-api-key' || n === 'api-key' || n === 'proxy-authorization') creds.push(`${n}: ${r.rawHeaders[i + 1]}`);
  }
  const want = EXPECTED[r.upstream];
  if (want === null) {
    for (const v of Object.values(SECRETS)) if (creds.some((c) => c.includes(v))) violation(`${r.upstream} ${r.url}: a vault credential on a passthrough/tunnel`);
  } else if (creds.length !== 1 || creds[0] !== want) {
    violation(`${r.upstream} ${r.url}: credentials ${JSON.stringify(creds.map((c) => c.replace(/:.*/, ': ...')))} instead of exactly its own`);
  }
}

const ups: Record<string, CaptureUpstream> = {};
for (const name of ['openai', 'anthropic', 'sentinel']) ups[name] = await startCaptureUpstream(name, { keep: 100, onRequest: checkUpstream });
const vault = await startRestartableVault({ 'openai/api-key': SECRETS.openai, 'anthropic/api-key': SECRETS.anthropic });
const configPath = join(vault.dir, 'routes.yaml');
const logPath = join(vault.dir, 'sidecar.log');
await writeFile(
  configPath,
  `version: 1
listen: 127.0.0.1:0
admin: 127.0.0.1:0
vault:
  agent: ${RIG_AGENT}
  tcp: 127.0.0.1:${vault.port}
  key_file: ${JSON.stringify(vault.keyFile)}
  timeout: 1s
egress:
  unmatched: deny
  block_private_addresses: false
  allow: ["127.0.0.1:${ups.sentinel!.port}"]
routes:
  - name: openai
    match: { host: api.openai.com, path: /v1/* }
    prefix: /openai
    upstream: ${ups.openai!.origin}
    allow_plaintext: true
    credential: openai/api-key
  - name: anthropic
    match: { host: api.anthropic.com }
    prefix: /anthropic
    upstream: ${ups.anthropic!.origin}
    allow_plaintext: true
    credential: anthropic/api-key
    inject: { header_type: custom, header_name: x-api-key }
`,
);

const launch = { node: node.path, entry, configPath, logPath, nodeOptions, extraFlags };
const sidecar = await startShippedSidecar(launch);
const ready = { proxyPort: sidecar.proxyPort, adminPort: sidecar.adminPort };
const PROXY = `http://127.0.0.1:${ready.proxyPort}`;
const direct = new Agent({ connections: CONCURRENCY * 2, headersTimeout: 15_000, bodyTimeout: 15_000 });
const viaProxy = new ProxyAgent({ uri: PROXY, proxyTunnel: false, connections: CONCURRENCY * 2, headersTimeout: 15_000, bodyTimeout: 15_000 } as ConstructorParameters<typeof ProxyAgent>[0]);

// --- scenarios -----------------------------------------------------------------------------
type Scenario = () => Promise<void>;

async function answer(kind: string, status: number, code: string | undefined, body: string, allowed: number[], credentialRoute: boolean): Promise<void> {
  checkNoSecret(body, kind);
  const vaultFail = credentialRoute && (status === 503 || status === 504) && (code === 'VAULT_UNAVAILABLE' || code === 'VAULT_TIMEOUT');
  if (allowed.includes(status)) count(`${kind} ${status}`);
  else if (vaultFail && vaultFailureAllowed()) count(`${kind} vault-blip ${status}`);
  else {
    count(`${kind} UNEXPECTED`);
    violation(`${kind}: unexpected ${status} ${code ?? ''}`);
  }
}

const successAbsolute: Scenario = async () => {
  const r = await request(`http://api.openai.com/v1/models?n=${Math.floor(rand() * 1e6)}`, { dispatcher: viaProxy });
  await answer('success-absolute', r.statusCode, r.headers['x-sanctum-error'] as string | undefined, await r.body.text(), [200], true);
};

const BODY = JSON.stringify({ model: 'soak', messages: [{ role: 'user', content: 'x'.repeat(8000) }] });
const successPrefixPost: Scenario = async () => {
  const r = await request(`${PROXY}/anthropic/v1/messages`, { dispatcher: direct, method: 'POST', body: BODY, headers: { 'content-type': 'application/json', 'x-api-key': 'sk-sanctum-placeholder' } });
  await answer('success-prefix-post', r.statusCode, r.headers['x-sanctum-error'] as string | undefined, await r.body.text(), [200], true);
};

const deny: Scenario = async () => {
  if (rand() < 0.5) {
    const r = await request('http://evil.test/steal', { dispatcher: viaProxy });
    await answer('deny-no-route', r.statusCode, r.headers['x-sanctum-error'] as string | undefined, await r.body.text(), [403], false);
  } else {
    // Over a raw socket: a client library would resolve the dot-segments before sending.
    const c = await converse(ready.proxyPort, ['GET /openai/v1/%2e%2e/admin HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'], { quietMs: 5000 });
    const r = { statusCode: c.responses[0]?.status ?? 0, headers: c.responses[0]?.headers ?? {}, body: { text: async () => c.raw } };
    await answer('deny-bad-target', r.statusCode, r.headers['x-sanctum-error'] as string | undefined, await r.body.text(), [400], false);
  }
};

const streaming: Scenario = async () => {
  const abandon = rand() < 0.25;
  const ac = new AbortController();
  const r = await request(`${PROXY}/openai/v1/sse?n=20&interval=5`, { dispatcher: direct, signal: ac.signal });
  if (r.statusCode !== 200) {
    await answer('streaming', r.statusCode, r.headers['x-sanctum-error'] as string | undefined, await r.body.text(), [200], true);
    return;
  }
  let events = 0;
  let text = '';
  try {
    for await (const chunk of r.body) {
      text += (chunk as Buffer).toString('latin1');
      events = (text.match(/data: /g) ?? []).length;
      if (abandon && events >= 3) {
        ac.abort();
        break;
      }
    }
  } catch (err) {
    if (!abandon) throw err;
  }
  checkNoSecret(text, 'streaming');
  if (abandon) count('streaming abandoned');
  else if (events === 20) count('streaming 200 complete');
  else violation(`streaming: ${events} of 20 events`);
};

/** Open a CONNECT tunnel, send `inner` (the last request carrying Connection: close), return every answer. */
function tunnel(authority: string, inner: string): Promise<{ statuses: number[]; raw: string }> {
  return new Promise((resolve, reject) => {
    const s = connect(ready.proxyPort, '127.0.0.1');
    let raw = '';
    let sent = false;
    const timer = setTimeout(() => s.destroy(new Error('tunnel timed out')), 15_000);
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.on('data', (c: Buffer) => {
      raw += c.toString('latin1');
      if (!sent && raw.includes('\r\n\r\n')) {
        sent = true;
        if (raw.startsWith('HTTP/1.1 200')) s.write(inner);
        else s.end();
      }
    });
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ statuses: parseResponses(raw, [0]).responses.map((r) => r.status), raw });
    });
    s.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
  });
}

const routedTunnel: Scenario = async () => {
  const t = await tunnel('api.openai.com:80', 'GET /v1/t1 HTTP/1.1\r\nHost: api.openai.com\r\n\r\nGET /v1/t2 HTTP/1.1\r\nHost: api.openai.com\r\nConnection: close\r\n\r\n');
  checkNoSecret(t.raw, 'tunnel');
  const [open, ...inner] = t.statuses;
  if (open !== 200) return void (violation(`tunnel: CONNECT answered ${open}`), count('tunnel UNEXPECTED'));
  const bad = inner.filter((s) => s !== 200 && !((s === 503 || s === 504) && vaultFailureAllowed()));
  if (inner.length !== 2 || bad.length > 0) {
    violation(`tunnel: inner answers ${JSON.stringify(inner)}`);
    count('tunnel UNEXPECTED');
  } else count(inner.every((s) => s === 200) ? 'tunnel-plain-http 200' : 'tunnel-plain-http vault-blip');
};

const byteTunnel: Scenario = async () => {
  const port = ups.sentinel!.port;
  const t = await tunnel(`127.0.0.1:${port}`, `GET /bt HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`);
  checkNoSecret(t.raw, 'byte tunnel');
  if (t.statuses.join(',') === '200,200') count('tunnel-bytes 200');
  else {
    violation(`byte tunnel: ${JSON.stringify(t.statuses)}`);
    count('tunnel-bytes UNEXPECTED');
  }
};

const passthrough: Scenario = async () => {
  const r = await request(`http://127.0.0.1:${ups.sentinel!.port}/pt`, { dispatcher: viaProxy, headers: { authorization: 'Bearer sk-sanctum-placeholder' } });
  await answer('passthrough', r.statusCode, r.headers['x-sanctum-error'] as string | undefined, await r.body.text(), [200], false);
};

const MIX: Array<[number, Scenario]> = [
  [30, successAbsolute],
  [20, successPrefixPost],
  [12, deny],
  [12, streaming],
  [10, routedTunnel],
  [6, byteTunnel],
  [10, passthrough],
];
const TOTAL_WEIGHT = MIX.reduce((a, [w]) => a + w, 0);
function pick(): Scenario {
  let x = rand() * TOTAL_WEIGHT;
  for (const [w, s] of MIX) if ((x -= w) < 0) return s;
  return MIX[0]![1];
}

// --- run -----------------------------------------------------------------------------------
interface Sample {
  readonly t: number;
  readonly s: SidecarStats;
}
const mb = (n: number): string => (n / MiB).toFixed(1);
const handleSummary = (h: Readonly<Record<string, number>>): string => {
  const total = Object.values(h).reduce((a, b) => a + b, 0);
  return `${total} (TCP ${h.TCPSocketWrap ?? 0}, timers ${h.Timeout ?? 0})`;
};
const memory = (s: SidecarStats): string =>
  `RSS ${mb(s.rss)} MiB (anon ${mb(s.rssAnon)}, file ${mb(s.rssFile)}), heap ${mb(s.heapUsed)}/${mb(s.heapTotal)} MiB, external ${mb(s.external)} MiB`;
const spaces = (s: SidecarStats): string =>
  Object.entries(s.spaces)
    .filter(([, v]) => v.size >= 0.05 * MiB)
    .map(([k, v]) => `${k.replace(/_space$/, '')} ${mb(v.used)}/${mb(v.size)}`)
    .join(', ');

// Idle after start: ready (vault connected), then a few quiet seconds.
for (let i = 0; i < 100; i++) {
  const r = await request(`http://127.0.0.1:${ready.adminPort}/readyz`).catch(() => null);
  await r?.body.dump();
  if (r?.statusCode === 200) break;
  await new Promise((res) => setTimeout(res, 100));
}
await new Promise((r) => setTimeout(r, 3000));
const first = await sidecar.stats();
console.log(
  `[soak] ${MINUTES} min of mixed traffic, ${CONCURRENCY} workers, warm-up ${WARMUP_MIN} min, vault blip every ${BLIP_EVERY_S} s; sidecar pid ${sidecar.pid} on 127.0.0.1:${ready.proxyPort}`,
);
console.log(`[soak] idle after start: ${memory(first)}, handles ${handleSummary(first.handles)}`);
console.log(`[soak]   heap spaces used/committed MiB: ${spaces(first)}`);

const samples: Sample[] = [];
const t0 = performance.now();
const deadline = t0 + DURATION_MS;
let stopping = false;

async function worker(): Promise<void> {
  while (!stopping && performance.now() < deadline) {
    try {
      await pick()();
    } catch (err) {
      count('client error');
      if (!vaultFailureAllowed()) violation(`client error: ${(err as Error).message}`);
    }
    await new Promise((r) => setTimeout(r, 2 + rand() * 6));
  }
}

async function blips(): Promise<number> {
  let n = 0;
  while (!stopping) {
    const next = t0 + (n + 1) * BLIP_EVERY_S * 1000;
    if (next + 10_000 > deadline) break;
    while (!stopping && performance.now() < next) await new Promise((r) => setTimeout(r, 200));
    if (stopping) break;
    vaultDown = true;
    vaultDownSince = performance.now();
    await vault.stop();
    await new Promise((r) => setTimeout(r, 1500));
    await vault.start();
    vaultDown = false;
    vaultDownSince = performance.now();
    n++;
  }
  return n;
}

async function sampler(): Promise<void> {
  let minute = 1;
  let heapFloor = Infinity;
  while (!stopping && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, SAMPLE_MS));
    const s = await sidecar.stats();
    const t = performance.now() - t0;
    samples.push({ t, s });
    // The lowest heap seen in the minute stands in for the heap after a collection (the
    // leak signal) without giving the shipped process --expose-gc.
    heapFloor = Math.min(heapFloor, s.heapUsed);
    if (t >= minute * 60_000 - SAMPLE_MS / 2) {
      const reqs = Object.values(minuteCount).reduce((a, b) => a + b, 0);
      const bad = Object.entries(minuteCount).filter(([k]) => k.includes('UNEXPECTED') || k === 'client error');
      console.log(
        `[soak] minute ${minute}: ${memory(s)}, heap floor ${mb(heapFloor)} MiB, VmHWM ${mb(s.hwm)} MiB, handles ${handleSummary(s.handles)}, ` +
          `proxy connections ${s.connections}, ${reqs} exchanges (${(reqs / 60).toFixed(0)}/s)${bad.length ? `, problems ${JSON.stringify(Object.fromEntries(bad))}` : ''}`,
      );
      minuteCount = {};
      heapFloor = Infinity;
      minute++;
    }
  }
}

async function scanLog(): Promise<number> {
  let lines = 0;
  let carry = '';
  for await (const chunk of createReadStream(logPath, { encoding: 'utf8' })) {
    const text = carry + (chunk as string);
    for (const v of Object.values(SECRETS)) if (text.includes(v)) violation('a log line carries a credential');
    lines += (text.match(/\n/g) ?? []).length;
    carry = text.slice(-64);
  }
  return lines;
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
}

let exitCode = 1;
let stopped = false;
try {
  const blipper = blips();
  await Promise.all([...Array.from({ length: CONCURRENCY }, worker), sampler()]);
  stopping = true;
  const blipCount = await blipper;
  // Let keep-alive sockets and timers settle, then take the idle picture.
  await direct.close();
  await viaProxy.close();
  await new Promise((r) => setTimeout(r, 5000));
  const idle = await sidecar.stats();

  const after = samples.filter((x) => x.t >= WARMUP_MS);
  const baseline = mean(after.filter((x) => x.t < WARMUP_MS + WINDOW_MS).map((x) => x.s.rss));
  const final = mean(samples.filter((x) => x.t >= DURATION_MS - WINDOW_MS).map((x) => x.s.rss));
  const growth = (final - baseline) / baseline;
  const steady = Math.max(...after.map((x) => x.s.rss));
  const heapBase = mean(after.filter((x) => x.t < WARMUP_MS + WINDOW_MS).map((x) => x.s.heapUsed));
  const heapFinal = mean(samples.filter((x) => x.t >= DURATION_MS - WINDOW_MS).map((x) => x.s.heapUsed));
  const total = Object.values(outcome).reduce((a, b) => a + b, 0);

  const cpu = idle.cpuMs - first.cpuMs;
  console.log(
    `[soak] exchanges: ${total} (${(total / (DURATION_MS / 1000)).toFixed(0)}/s), vault blips: ${blipCount}; sidecar CPU ${(cpu / 1000).toFixed(1)} s, ${((cpu * 1000) / Math.max(1, total)).toFixed(0)} µs per exchange`,
  );
  console.log(`[soak] outcomes: ${JSON.stringify(Object.fromEntries(Object.entries(outcome).sort()))}`);
  console.log(
    `[soak] RSS after warm-up ${mb(baseline)} MiB -> end ${mb(final)} MiB: growth ${(growth * 100).toFixed(1)} %, highest ${mb(steady)} MiB, VmHWM ${mb(idle.hwm)} MiB; ` +
      `heap ${mb(heapBase)} -> ${mb(heapFinal)} MiB`,
  );
  console.log(`[soak] idle after the run (5 s): ${memory(idle)}, handles ${handleSummary(idle.handles)}, proxy connections ${idle.connections}`);
  console.log(`[soak]   heap spaces used/committed MiB: ${spaces(idle)}`);
  const code = await sidecar.stop();
  stopped = true;
  const logLines = await scanLog();
  console.log(`[soak] sidecar log: ${logLines} lines, scanned for credentials; SIGTERM: exit ${code}`);

  const targets: Array<[boolean, string]> = [
    [first.rss <= TARGET.idleRss, `idle after start: RSS ${mb(first.rss)} MiB <= ${mb(TARGET.idleRss)} MiB`],
    [steady <= TARGET.steadyRss, `steady state under load: highest RSS after warm-up ${mb(steady)} MiB <= ${mb(TARGET.steadyRss)} MiB`],
    [growth < TARGET.growth, `RSS growth after warm-up ${(growth * 100).toFixed(1)} % < ${TARGET.growth * 100} %`],
  ];
  console.log(`[soak] memory targets (node ${node.version}):`);
  for (const [ok, text] of targets) {
    console.log(`[soak]   [${ok ? 'PASS' : 'FAIL'}] ${text}`);
    if (!ok) violation(`memory target missed: ${text}`);
  }
  if (node.warning) console.log(`[soak] ${node.warning}`);
  if (idle.connections !== 0) violation(`${idle.connections} proxy connections still open when idle`);
  if (code !== 0) violation(`the sidecar exited ${code} on SIGTERM (expected a drain and exit 0)`);
  if (violations.length > 0) {
    console.log(`[soak] FAIL:\n  ${violations.join('\n  ')}`);
  } else {
    console.log('[soak] PASS');
    exitCode = 0;
  }
} finally {
  stopping = true;
  if (!stopped) await sidecar.stop();
  for (const u of Object.values(ups)) await u.close();
  await vault.dispose();
}
process.exit(exitCode);
