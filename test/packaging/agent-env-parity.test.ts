/**
 * The chart's agent environment follows `sanctum-sidecar env`: for the sidecar with
 * interception, the gateway agent, and routes for every SDK host `env` knows (prefix
 * routes with and without an upstream base path), the agent container's variables
 * are, in order, exactly what `agentEnv()` computes from the routes.yaml the chart
 * renders (with the CA at the agent's mount path, the gateway Service as the proxy,
 * and Kubernetes' `$(VAR)` where `env` prints the shell's `${VAR}`).
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { agentEnv, KNOWN_SDKS, type AgentEnvOptions } from '../../src/agent-env.js';
import { parseConfig } from '../../src/config/load.js';
import { CHART, NAMESPACE, RELEASE, render } from './helm.js';
import { one, SANCTUM_CONTAINER, type Obj } from './policy.js';
import type { Manifest } from './k8s.js';

const FULLNAME = `${RELEASE}-sanctum-sidecar`;
const CA_MOUNT = '/etc/sanctum-sidecar-ca';

/** routes.config with a prefix credential route for every SDK host env knows, one with a base path, and a host-only one. */
function allSdkValues(): string {
  const routes = Object.keys(KNOWN_SDKS).map((host, i) => ({
    name: `r${i}-${host.split('.')[1]}`,
    match: { host },
    prefix: `/p${i}`,
    upstream: i === 0 ? `https://${host}/v1` : `https://${host}`,
    credential: `c/${i}`,
  }));
  routes.push({ name: 'internal-tools', prefix: '/tools', upstream: 'https://tools.example.com/api', credential: 'tools/token' } as never);
  routes.push({ name: 'plain', match: { host: 'plain.example.com' }, upstream: 'https://plain.example.com' } as never);
  const file = join(mkdtempSync(join(tmpdir(), 'parity-')), 'values.yaml');
  writeFileSync(
    file,
    stringify({ interception: { enabled: true, caSecret: 'ca' }, routes: { config: { version: 1, egress: { unmatched: 'deny' }, routes } } }),
  );
  return file;
}

const cases: Array<{ name: string; values: () => string[]; deployment: string; opts: AgentEnvOptions; chartOnly: string[] }> = [
  { name: 'sidecar with interception', values: () => [join(CHART, 'ci', 'interception-values.yaml')], deployment: FULLNAME, opts: { caPath: CA_MOUNT }, chartOnly: [] },
  {
    name: 'gateway agent alpha',
    values: () => [join(CHART, 'ci', 'gateway-values.yaml')],
    deployment: `${FULLNAME}-agent`,
    opts: { agent: 'alpha', proxyUrl: `http://${FULLNAME}.${NAMESPACE}.svc.cluster.local:8080` },
    chartOnly: ['SANCTUM_SIDECAR_PROXY_TOKEN', 'GATEWAY_HOST'],
  },
  { name: 'every SDK host env knows', values: () => [allSdkValues()], deployment: FULLNAME, opts: { caPath: CA_MOUNT }, chartOnly: [] },
];

const rendered = new Map<string, Manifest[]>();
before(async () => {
  await Promise.all(cases.map(async (c) => rendered.set(c.name, await render({ values: c.values() }))));
});

describe('the chart sets the agent variables env prints', () => {
  for (const c of cases) {
    it(c.name, () => {
      const docs = rendered.get(c.name)!;
      const routesText = one(docs, 'ConfigMap', `${FULLNAME}-routes`).data['routes.yaml'] as string;
      const config = parseConfig(routesText, '/etc/sanctum-sidecar/routes.yaml', {});
      const expected = agentEnv(config, c.opts).map((v) => [v.name, v.value.replace(/\$\{(\w+)\}/g, '$($1)')]);
      const agent = (one(docs, 'Deployment', c.deployment).spec.template.spec.containers as Obj[]).find((x) => x.name !== SANCTUM_CONTAINER)!;
      const env = (agent.env as Obj[]).filter((e) => !c.chartOnly.includes(e.name as string));
      assert.deepEqual(
        env.map((e) => [e.name, e.value]),
        expected,
      );
      if (c.name.startsWith('every')) {
        // The table is exercised: base URLs with SDK paths, and the base path of the upstream taken off.
        const names = new Map(expected as Array<[string, string]>);
        assert.equal(names.get('OPENAI_BASE_URL'), 'http://127.0.0.1:8080/p0', 'upstream https://api.openai.com/v1 already ends in /v1');
        assert.equal(names.get('INTERNAL_TOOLS_BASE_URL'), 'http://127.0.0.1:8080/tools');
        assert.equal(names.get('GH_TOKEN'), 'sk-sanctum-placeholder');
        assert.equal(names.has('PLAIN_API_KEY'), false);
      }
    });
  }
});
