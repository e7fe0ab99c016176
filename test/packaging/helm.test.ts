/**
 * The Helm chart, checked with a real helm binary (fetched by scripts/fetch-helm.mjs):
 * lint --strict and template over every ci/*-values.yaml, every rendered manifest
 * validated against the Kubernetes schemas (kubernetes-models, prometheus-operator
 * models) plus an unknown-field check, the pod policy, mode-specific wiring, the
 * render-time guards (a deliberately broken values file must fail), the named
 * template used from a parent chart, and the rendered routes.yaml loaded by the
 * sidecar's own `check`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { CHART, CI_DIR, FIXTURES, FULLNAME, NAMESPACE, RELEASE, ciCases, helm, helmBin, render, sidecarCheck, templateArgs, type CheckResult } from './helm.js';
import { unknownFields, validateManifest, type Manifest } from './k8s.js';
import { SANCTUM_CONTAINER, byKind, envOf, envValue, one, podPolicyViolations, pods, type Obj } from './policy.js';

const ciFiles = readdirSync(CI_DIR)
  .filter((f) => f.endsWith('-values.yaml'))
  .sort();
const cases = ciCases();
/** Injector mode renders no routes ConfigMap: injected pods mount one from their own namespace (injector.test.ts). */
const routed = (name: string): boolean => name !== 'injector';

const rendered = new Map<string, Manifest[]>();
let work: string;
let checks: Promise<Map<string, CheckResult>> | undefined;

before(async () => {
  helmBin(); // fetch once, before the parallel renders
  work = mkdtempSync(join(tmpdir(), 'sanctum-helm-'));
  await Promise.all(cases.map(async (c) => rendered.set(c.name, await render({ values: c.values }))));
  // Load every rendered routes.yaml with the sidecar's own loader, in the background.
  const files = cases.filter((c) => routed(c.name)).map((c) => {
    const file = join(work, `${c.name}.routes.yaml`);
    writeFileSync(file, one(docsOf(c.name), 'ConfigMap', `${FULLNAME}-routes`).data['routes.yaml']);
    return file;
  });
  checks = sidecarCheck(files);
  checks.catch(() => undefined); // reported by the test that awaits it
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function docsOf(name: string): Manifest[] {
  const docs = rendered.get(name);
  assert.ok(docs, `no render for ${name}`);
  return docs;
}

function sidecarOf(pod: Obj): Obj {
  const all = [...(pod.initContainers ?? []), ...pod.containers] as Obj[];
  const c = all.find((x) => x.name === SANCTUM_CONTAINER);
  assert.ok(c, 'no sanctum-sidecar container');
  return c;
}

function routesYaml(docs: readonly Manifest[]): Obj {
  const cm = one(docs, 'ConfigMap', `${FULLNAME}-routes`);
  return parseYaml(cm.data['routes.yaml']) as Obj;
}

describe('chart: ci values files', () => {
  it('covers the modes the issue asks for', () => {
    for (const mode of ['native', 'classic', 'tcp-vault', 'socket', 'hostpath', 'interception', 'gateway', 'job', 'cronjob', 'injector']) {
      assert.ok(ciFiles.includes(`${mode}-values.yaml`), `missing ci/${mode}-values.yaml`);
    }
  });

  it('helm lint --strict passes with the defaults and every ci values file', async () => {
    const results = await Promise.all(
      cases.map(async (c) => ({ c, res: await helm(['lint', '--strict', CHART, ...c.values.flatMap((v) => ['-f', v])]) })),
    );
    for (const { c, res } of results) {
      assert.equal(res.status, 0, `helm lint --strict (${c.name}) failed:\n${res.stdout}\n${res.stderr}`);
      assert.match(res.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    }
  });

  for (const c of cases) {
    it(`${c.name}: every manifest is valid against the Kubernetes schemas, with no unknown fields`, async () => {
      const docs = docsOf(c.name);
      assert.ok(docs.length >= 3, 'suspiciously few manifests');
      for (const doc of docs) {
        assert.equal(doc.metadata.namespace ?? NAMESPACE, NAMESPACE, `${doc.kind}/${doc.metadata.name} namespace`);
        assert.deepEqual(await validateManifest(doc), [], `${doc.kind}/${doc.metadata.name} fails its schema`);
        assert.deepEqual(unknownFields(doc), [], `${doc.kind}/${doc.metadata.name} has fields Kubernetes does not define`);
      }
    });

    it(`${c.name}: pods follow the policy (restricted securityContext, probes, resources, mounts)`, () => {
      const ps = pods(docsOf(c.name));
      assert.ok(ps.length >= 1, 'no workload rendered');
      for (const p of ps) assert.deepEqual(podPolicyViolations(p), []);
    });

    if (!routed(c.name)) continue;
    it(`${c.name}: the routes ConfigMap is mounted as a directory and its selectors match`, () => {
      const docs = docsOf(c.name);
      const cmName = `${FULLNAME}-routes`;
      one(docs, 'ConfigMap', cmName);
      for (const p of pods(docs)) {
        const vol = (p.spec.volumes as Obj[]).find((v) => v.name === 'sanctum-routes');
        if (!vol) continue; // an agent pod in gateway mode
        assert.equal(vol.configMap.name, cmName);
        const mount = (sidecarOf(p.spec).volumeMounts as Obj[]).find((m) => m.name === 'sanctum-routes');
        assert.ok(mount, 'routes volume not mounted');
        assert.equal(mount.subPath, undefined, 'routes mounted with subPath: hot reload would never see updates');
        assert.equal(mount.mountPath, '/etc/sanctum-sidecar');
        const args = sidecarOf(p.spec).args as string[];
        assert.deepEqual(args.slice(0, 3), ['run', '--config', '/etc/sanctum-sidecar/routes.yaml']);
      }
      for (const d of docs.filter((x) => x.kind === 'Deployment') as Obj[]) {
        const sel = d.spec.selector.matchLabels as Record<string, string>;
        const labels = d.spec.template.metadata.labels as Record<string, string>;
        for (const [k, v] of Object.entries(sel)) assert.equal(labels[k], v, `${d.metadata.name}: selector ${k} does not match the pod`);
      }
    });

    it(`${c.name}: the rendered routes.yaml is accepted by \`sanctum-sidecar check\``, async () => {
      const res = (await checks!).get(join(work, `${c.name}.routes.yaml`))!;
      const out = res.output;
      assert.equal(res.status, 0, `check failed:\n${out}`);
      assert.match(out, /OK \(\d+ routes?/);
      if (c.name === 'gateway') assert.match(out, /agents \(1, gateway mode\)/);
    });
  }
});

describe('chart: sidecar modes', () => {
  it('native (default): an init container with restartPolicy Always and a startupProbe on /readyz', () => {
    for (const name of ['default', 'native']) {
      const dep = one(docsOf(name), 'Deployment', FULLNAME);
      const spec = dep.spec.template.spec as Obj;
      const init = (spec.initContainers as Obj[]).find((c) => c.name === SANCTUM_CONTAINER);
      assert.ok(init, 'sidecar is not an init container');
      assert.equal(init.restartPolicy, 'Always');
      assert.equal(init.startupProbe.httpGet.path, '/readyz');
      assert.equal(init.startupProbe.httpGet.port, 'admin');
      assert.ok(init.startupProbe.periodSeconds * init.startupProbe.failureThreshold >= 30, 'startup window under 30 s');
      assert.equal((spec.containers as Obj[]).find((c) => c.name === SANCTUM_CONTAINER), undefined);
      assert.equal(init.lifecycle, undefined, 'native sidecars stop after the agent: no preStop sleep');
      assert.equal(envValue(init, 'SANCTUM_SIDECAR_LISTEN'), '127.0.0.1:8080');
      assert.equal(envValue(init, 'SANCTUM_SIDECAR_ADMIN'), '0.0.0.0:9090');
    }
  });

  it('classic: a regular container with a preStop sleep that fits in the grace period', () => {
    const dep = one(docsOf('classic'), 'Deployment', FULLNAME);
    const spec = dep.spec.template.spec as Obj;
    assert.equal(spec.initContainers, undefined);
    const c = (spec.containers as Obj[]).find((x) => x.name === SANCTUM_CONTAINER);
    assert.ok(c);
    assert.equal(c.restartPolicy, undefined);
    assert.equal(c.lifecycle.preStop.sleep.seconds, 5);
    assert.equal(envValue(c, 'SANCTUM_SIDECAR_DRAIN_DELAY'), undefined, 'the preStop sleep already keeps it serving');
    const shutdown = Number(/^(\d+)s$/.exec(envValue(c, 'SANCTUM_SIDECAR_SHUTDOWN_TIMEOUT')!)![1]);
    assert.ok(5 + shutdown < spec.terminationGracePeriodSeconds);
  });

  it('the agent gets the proxy variables in both cases, pointing at the loopback listener', () => {
    for (const name of ['default', 'native', 'classic', 'tcp-vault', 'interception']) {
      const dep = one(docsOf(name), 'Deployment', FULLNAME);
      const agent = (dep.spec.template.spec.containers as Obj[]).find((c) => c.name !== SANCTUM_CONTAINER)!;
      for (const v of ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy']) {
        assert.equal(envValue(agent, v), 'http://127.0.0.1:8080', `${name}: ${v}`);
      }
      for (const v of ['NO_PROXY', 'no_proxy']) assert.equal(envValue(agent, v), 'localhost,127.0.0.1,::1', `${name}: ${v}`);
      if (name !== 'interception') {
        for (const v of ['NODE_EXTRA_CA_CERTS', 'REQUESTS_CA_BUNDLE', 'SSL_CERT_FILE']) assert.equal(envValue(agent, v), undefined);
      }
      assert.equal(envOf(agent).has('SANCTUM_SIDECAR_KEY_FILE'), false, 'the agent must not know the key path');
    }
  });

  it('the key Secret is mounted read-only with mode 0400, readable through fsGroup by the non-root sidecar', () => {
    const dep = one(docsOf('default'), 'Deployment', FULLNAME);
    const spec = dep.spec.template.spec as Obj;
    const vol = (spec.volumes as Obj[]).find((v) => v.name === 'sanctum-key')!;
    assert.equal(vol.secret.secretName, `${FULLNAME}-agent-key`);
    assert.equal(vol.secret.defaultMode, 0o400);
    const sc = sidecarOf(spec);
    const mount = (sc.volumeMounts as Obj[]).find((m) => m.name === 'sanctum-key')!;
    assert.equal(mount.readOnly, true);
    assert.equal(envValue(sc, 'SANCTUM_SIDECAR_KEY_FILE'), `${mount.mountPath}/agent.key`);
    assert.equal(spec.securityContext.fsGroup, sc.securityContext.runAsGroup, 'fsGroup must be the sidecar group');
    assert.notEqual(sc.securityContext.runAsUser, 0);
  });

  it('socket vault: the socket directory is a read-only volume from the named volume and routes.yaml names the socket', () => {
    const docs = docsOf('socket');
    const spec = one(docs, 'Deployment', FULLNAME).spec.template.spec as Obj;
    const sc = sidecarOf(spec);
    assert.equal(envValue(sc, 'SANCTUM_SIDECAR_VAULT_SOCKET'), '/var/run/sanctum/vault.sock');
    assert.equal(envValue(sc, 'SANCTUM_SIDECAR_VAULT_TCP'), undefined);
    const mount = (sc.volumeMounts as Obj[]).find((m) => m.name === 'sanctum-vault')!;
    assert.deepEqual([mount.mountPath, mount.readOnly], ['/var/run/sanctum', true]);
    const vol = (spec.volumes as Obj[]).find((v) => v.name === 'sanctum-vault');
    assert.deepEqual(vol, { name: 'sanctum-vault', csi: { driver: 'socket.sanctumai.io', readOnly: true } });
    assert.equal(one(docs, 'Deployment', FULLNAME).spec.template.metadata.annotations, undefined, 'no Pod Security exception declared');
    const routes = routesYaml(docs);
    assert.deepEqual(routes.vault, {
      agent: 'my-agent',
      socket: '/var/run/sanctum/vault.sock',
      key_file: '/var/run/secrets/sanctum-sidecar/keys/agent.key',
    });
    assert.equal(routes.listen, '127.0.0.1:8080');
    // The admin listener is on 0.0.0.0 for probes and Prometheus, so its route-table detail is off.
    assert.equal(routes.admin, '0.0.0.0:9090');
    assert.equal(routes.admin_detail, false);
  });

  it('tcp vault: address and passphrase wired, no socket volume', () => {
    const docs = docsOf('tcp-vault');
    const spec = one(docs, 'Deployment', FULLNAME).spec.template.spec as Obj;
    const sc = sidecarOf(spec);
    assert.equal(envValue(sc, 'SANCTUM_SIDECAR_VAULT_TCP'), 'sanctum-vault.sanctum.svc.cluster.local:7600');
    assert.equal(envValue(sc, 'SANCTUM_SIDECAR_VAULT_SOCKET'), undefined);
    assert.equal((spec.volumes as Obj[]).some((v) => v.name === 'sanctum-vault'), false);
    assert.deepEqual(envOf(sc).get('BILLING_AGENT_KEY_PASSPHRASE')?.valueFrom, {
      secretKeyRef: { name: 'billing-agent-key-passphrase', key: 'passphrase' },
    });
    const routes = routesYaml(docs);
    assert.equal(routes.vault.tcp, 'sanctum-vault.sanctum.svc.cluster.local:7600');
    assert.equal(routes.vault.socket, undefined);
    assert.equal(routes.vault.passphrase_env, 'BILLING_AGENT_KEY_PASSPHRASE');
    assert.equal(routes.vault.timeout, '3s', 'other vault keys from routes.config are kept');
    const np = one(docs, 'NetworkPolicy', FULLNAME);
    const vaultRule = (np.spec.egress as Obj[]).find((r) => r.ports?.[0]?.port === 7600);
    assert.ok(vaultRule, 'no egress rule for the vault port');
  });

  it('interception: the sidecar gets the CA directory, the agent only the certificate and the CA variables', () => {
    const docs = docsOf('interception');
    const spec = one(docs, 'Deployment', FULLNAME).spec.template.spec as Obj;
    const sc = sidecarOf(spec);
    assert.equal(envValue(sc, 'SANCTUM_SIDECAR_CA_DIR'), '/etc/sanctum-sidecar/ca');
    const vols = new Map<string, Obj>((spec.volumes as Obj[]).map((v) => [v.name as string, v]));
    assert.equal(vols.get('sanctum-ca')?.secret.secretName, 'sanctum-sidecar-ca');
    assert.equal(vols.get('sanctum-ca')?.secret.items, undefined, 'the sidecar needs ca.key too');
    assert.deepEqual(vols.get('sanctum-ca-public')?.secret.items, [
      { key: 'ca.crt', path: 'ca.crt' },
      { key: 'ca-bundle.crt', path: 'ca-bundle.crt' },
    ], 'the certificate and the bundle (public roots + CA), never ca.key');
    const agent = (spec.containers as Obj[]).find((c) => c.name === 'agent')!;
    assert.deepEqual(
      (agent.volumeMounts as Obj[]).map((m) => m.name).sort(),
      ['agent-tmp', 'sanctum-ca-public'],
    );
    assert.equal(envValue(agent, 'NODE_EXTRA_CA_CERTS'), '/etc/sanctum-sidecar-ca/ca.crt');
    // Variables that replace the agent's trust store name the bundle, so public hosts still verify.
    for (const v of ['REQUESTS_CA_BUNDLE', 'SSL_CERT_FILE', 'CURL_CA_BUNDLE', 'GIT_SSL_CAINFO', 'AWS_CA_BUNDLE']) {
      assert.equal(envValue(agent, v), '/etc/sanctum-sidecar-ca/ca-bundle.crt', v);
    }
    assert.equal(routesYaml(docs).tls.ca_dir, '/etc/sanctum-sidecar/ca');
  });

  it('monitoring: a PodMonitor on the admin port and scrape annotations when asked', () => {
    const docs = docsOf('native');
    const pm = one(docs, 'PodMonitor', FULLNAME);
    assert.equal(pm.spec.podMetricsEndpoints[0].port, 'admin');
    assert.equal(pm.spec.podMetricsEndpoints[0].path, '/metrics');
    assert.equal(pm.metadata.labels.release, 'kube-prometheus-stack');
    const dep = one(docs, 'Deployment', FULLNAME);
    for (const [k, v] of Object.entries(pm.spec.selector.matchLabels as Record<string, string>)) {
      assert.equal(dep.spec.template.metadata.labels[k], v);
    }
    assert.equal(dep.spec.template.metadata.annotations['prometheus.io/port'], '9090');
    assert.equal(byKind(docsOf('default'), 'PodMonitor').length, 0, 'PodMonitor is opt-in');
  });

  it('network policy: admin port only from the monitoring namespace, egress allow-list', () => {
    const np = one(docsOf('native'), 'NetworkPolicy', FULLNAME);
    assert.deepEqual(np.spec.policyTypes, ['Ingress', 'Egress']);
    assert.deepEqual(np.spec.ingress[0].ports, [{ port: 9090, protocol: 'TCP' }]);
    assert.equal(np.spec.ingress[0].from[0].namespaceSelector.matchLabels['kubernetes.io/metadata.name'], 'monitoring');
    const dns = (np.spec.egress as Obj[]).find((r) => r.ports?.some((p: Obj) => p.port === 53));
    assert.ok(dns, 'DNS egress missing');
    const https = (np.spec.egress as Obj[]).find((r) => r.to?.[0]?.ipBlock);
    assert.ok(https, 'no upstream egress rule');
    assert.ok(https.to[0].ipBlock.except.includes('169.254.0.0/16'), 'metadata range must be excluded');
  });

  it('rolloutOnChange: a checksum of routes.yaml on the pod, which changes with the routes (off by default)', async () => {
    const a = one(docsOf('native'), 'Deployment', FULLNAME).spec.template.metadata.annotations['checksum/routes'];
    assert.match(a, /^[0-9a-f]{64}$/);
    const changed = await render({ values: [join(CI_DIR, 'native-values.yaml')], set: ['routes.config.routes[0].name=openai2'] });
    const b = one(changed, 'Deployment', FULLNAME).spec.template.metadata.annotations['checksum/routes'];
    assert.notEqual(a, b);
    const plain = one(docsOf('default'), 'Deployment', FULLNAME).spec.template.metadata.annotations;
    assert.equal(plain?.['checksum/routes'], undefined);
  });
});

describe('chart: gateway mode', () => {
  it('renders Deployment, Service, HPA and PDB that point at each other', () => {
    const docs = docsOf('gateway');
    const gw = one(docs, 'Deployment', FULLNAME);
    const svc = one(docs, 'Service', FULLNAME);
    const hpa = one(docs, 'HorizontalPodAutoscaler', FULLNAME);
    const pdb = one(docs, 'PodDisruptionBudget', FULLNAME);
    const labels = gw.spec.template.metadata.labels as Record<string, string>;
    for (const sel of [svc.spec.selector, pdb.spec.selector.matchLabels, gw.spec.selector.matchLabels]) {
      for (const [k, v] of Object.entries(sel as Record<string, string>)) assert.equal(labels[k], v, `selector ${k}`);
    }
    assert.equal(labels['app.kubernetes.io/component'], 'gateway');
    assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: FULLNAME });
    assert.equal(gw.spec.replicas, undefined, 'the HPA owns replicas');
    assert.equal(pdb.spec.minAvailable, 1);
    const c = gw.spec.template.spec.containers[0];
    assert.equal(c.name, SANCTUM_CONTAINER);
    assert.equal(envValue(c, 'SANCTUM_SIDECAR_LISTEN'), '0.0.0.0:8080');
    assert.equal(svc.spec.ports[0].targetPort, 'proxy');
    assert.equal(c.lifecycle.preStop.sleep.seconds, 5);
    assert.equal(gw.spec.template.spec.initContainers, undefined);
  });

  it('the agent Deployment has no sidecar and its proxy variables carry the token to the Service', () => {
    const docs = docsOf('gateway');
    const dep = one(docs, 'Deployment', `${FULLNAME}-agent`);
    const spec = dep.spec.template.spec as Obj;
    assert.equal(spec.initContainers, undefined);
    assert.equal(spec.containers.length, 1);
    const agent = spec.containers[0];
    const host = `${FULLNAME}.${NAMESPACE}.svc.cluster.local:8080`;
    for (const v of ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy']) {
      assert.equal(envValue(agent, v), `http://alpha:$(SANCTUM_SIDECAR_PROXY_TOKEN)@${host}`);
    }
    const names = (agent.env as Obj[]).map((e) => e.name);
    assert.ok(names.indexOf('SANCTUM_SIDECAR_PROXY_TOKEN') < names.indexOf('HTTP_PROXY'), '$(VAR) needs VAR defined first');
    assert.equal(dep.spec.template.metadata.labels['sidecar.sanctumai.io/gateway'], FULLNAME);
  });

  it('network policies: only labelled clients reach the proxy; agents reach only DNS and the gateway', () => {
    const docs = docsOf('gateway');
    const gwPolicy = one(docs, 'NetworkPolicy', FULLNAME);
    const proxyRule = (gwPolicy.spec.ingress as Obj[]).find((r) => r.ports[0].port === 8080)!;
    assert.deepEqual(proxyRule.from, [{ podSelector: { matchLabels: { 'sidecar.sanctumai.io/gateway': FULLNAME } } }]);
    const agentPolicy = one(docs, 'NetworkPolicy', `${FULLNAME}-agent`);
    assert.deepEqual(agentPolicy.spec.policyTypes, ['Egress']);
    assert.equal(agentPolicy.spec.egress.length, 2);
    const toGateway = agentPolicy.spec.egress[1];
    assert.equal(toGateway.to[0].podSelector.matchLabels['app.kubernetes.io/component'], 'gateway');
    assert.deepEqual(toGateway.ports, [{ port: 8080, protocol: 'TCP' }]);
  });
});

describe('chart: broken values fail', () => {
  const broken = join(FIXTURES, 'broken-values.yaml');

  it('the deliberately broken values file fails helm template and helm lint', async () => {
    const t = await helm(templateArgs({ values: [broken] }));
    assert.notEqual(t.status, 0, 'helm template accepted broken values');
    assert.match(t.stderr, /sidecar\/listen\/port.*65,?535|65535/);
    assert.match(t.stderr, /sidecar\/mode/);
    const l = await helm(['lint', '--strict', CHART, '-f', broken]);
    assert.notEqual(l.status, 0, 'helm lint accepted broken values');
  });

  const bad: Array<{ name: string; set: string[]; values?: string; kubeVersion?: string; error: RegExp }> = [
    { name: 'an unknown key (typo)', set: ['sidecar.mdoe=classic'], error: /additional propert(y|ies) 'mdoe'/ },
    { name: 'an invalid mode', set: ['mode=mesh'], error: /\/mode/ },
    { name: 'a world-readable key', set: ['vault.key.defaultMode=420'], error: /defaultMode/ },
    { name: 'a root sidecar', set: ['sidecar.securityContext.runAsNonRoot=false'], error: /runAsNonRoot/ },
    { name: 'a writable root filesystem', set: ['sidecar.securityContext.readOnlyRootFilesystem=false'], error: /readOnlyRootFilesystem/ },
    { name: 'a non-loopback listener in sidecar mode', set: ['sidecar.listen.address=0.0.0.0'], error: /must listen on loopback/ },
    { name: 'gateway mode without per-agent tokens', set: ['mode=gateway'], error: /needs per-agent authentication/ },
    { name: 'gateway credentials for an agent that does not exist', set: ['agent.gatewayAuth.username=beta'], values: 'gateway', error: /"beta" is not an agent of routes\.config\.agents \(alpha\)/ },
    { name: 'gateway credentials without a user name', set: ['agent.gatewayAuth.username='], values: 'gateway', error: /username must name the agent/ },
    { name: 'a TCP vault without an address', set: ['vault.tcp.address='], error: /needs vault\.tcp\.address/ },
    { name: 'a socket vault without a volume', set: ['vault.transport=socket'], error: /needs vault\.socket\.volume/ },
    {
      name: 'a hostPath socket volume without the opt-in',
      set: ['vault.transport=socket', 'vault.socket.volume.hostPath.path=/var/run/sanctum'],
      error: /hostPath, which the baseline and restricted Pod Security Standards refuse.*allowHostPath=true/,
    },
    { name: 'a Job with a classic sidecar (it would never complete)', set: ['agent.kind=Job', 'sidecar.mode=classic'], error: /agent\.kind=Job needs sidecar\.mode=native.*never complete.*mode=gateway/ },
    { name: 'a CronJob with a classic sidecar', set: ['agent.kind=CronJob', 'sidecar.mode=classic'], error: /agent\.kind=CronJob needs sidecar\.mode=native/ },
    { name: 'an unknown agent kind', set: ['agent.kind=StatefulSet'], error: /agent\/kind/ },
    { name: 'an extra mount of a volume the pod lacks', values: 'gateway', set: ['sidecar.extraVolumeMounts[0].name=nope'], error: /extraVolumeMounts: no volume "nope" in the gateway pod/ },
    { name: 'an extra volume with a chart volume name', set: ['sidecar.extraVolumes[0].name=sanctum-key', 'sidecar.extraVolumes[0].emptyDir.medium=Memory'], error: /extraVolumes: the name "sanctum-key" is already used/ },
    { name: 'interception without a CA Secret', set: ['interception.enabled=true'], error: /needs interception\.caSecret/ },
    { name: 'a grace period shorter than the drain', set: ['terminationGracePeriodSeconds=10'], error: /must exceed/ },
    { name: 'native sidecars on Kubernetes 1.28', set: [], kubeVersion: '1.28.3', error: /native needs Kubernetes >= 1\.29.*sidecar\.mode=classic/ },
  ];
  for (const b of bad) {
    it(`rejects ${b.name}`, async () => {
      const values = b.values ? [join(CI_DIR, `${b.values}-values.yaml`)] : [];
      const res = await helm(templateArgs({ values, set: b.set, ...(b.kubeVersion ? { kubeVersion: b.kubeVersion } : {}) }));
      assert.notEqual(res.status, 0, `helm template accepted ${b.name}`);
      assert.match(res.stderr, b.error);
    });
  }

  it('classic mode still renders for Kubernetes 1.28, with its own drain delay instead of the preStop sleep it lacks', async () => {
    const docs = await render({ set: ['sidecar.mode=classic'], kubeVersion: '1.28.3' });
    const c = sidecarOf(one(docs, 'Deployment', FULLNAME).spec.template.spec);
    assert.equal(c.lifecycle, undefined);
    assert.equal(envValue(c, 'SANCTUM_SIDECAR_DRAIN_DELAY'), '5s');
    for (const p of pods(docs)) assert.deepEqual(podPolicyViolations(p), []);
  });
});

describe('chart: reuse and notes', () => {
  it('a parent chart can include the sidecar with the named templates', async () => {
    const dir = join(work, 'parent');
    cpSync(join(FIXTURES, 'parent-chart'), dir, { recursive: true });
    mkdirSync(join(dir, 'charts'));
    cpSync(CHART, join(dir, 'charts', 'sanctum-sidecar'), { recursive: true });
    const docs = await render({ chart: dir });
    const dep = one(docs, 'Deployment', `${RELEASE}-my-agent`);
    const spec = dep.spec.template.spec as Obj;
    const sc = spec.initContainers[0];
    assert.equal(sc.name, SANCTUM_CONTAINER);
    assert.equal(sc.restartPolicy, 'Always');
    // The same container as the chart renders for itself.
    const own = one(docsOf('default'), 'Deployment', FULLNAME).spec.template.spec.initContainers[0];
    assert.deepEqual(sc, own);
    const cm = one(docs, 'ConfigMap', `${FULLNAME}-routes`);
    const vol = (spec.volumes as Obj[]).find((v) => v.name === 'sanctum-routes')!;
    assert.equal(vol.configMap.name, cm.metadata.name, 'the mounted ConfigMap is the one the dependency renders');
    assert.equal(byKind(docs, 'Deployment').length, 1, 'agent.enabled=false renders no workload of its own');
    assert.equal(envValue(spec.containers[0], 'HTTP_PROXY'), 'http://127.0.0.1:8080');
    for (const doc of docs) assert.deepEqual(await validateManifest(doc), []);
  });

  it('NOTES.txt tells the user what to do next', async () => {
    const [side, gw] = await Promise.all([
      helm(['install', RELEASE, CHART, '--dry-run=client', '--namespace', NAMESPACE]),
      helm(['install', RELEASE, CHART, '--dry-run=client', '--namespace', NAMESPACE, '-f', join(CI_DIR, 'gateway-values.yaml')]),
    ]);
    assert.equal(side.status, 0, side.stderr);
    assert.match(side.stdout, new RegExp(`kubectl -n ${NAMESPACE} create secret generic ${FULLNAME}-agent-key`));
    assert.match(side.stdout, /sanctum-sidecar keygen my-agent/);
    assert.match(side.stdout, /curl -s http:\/\/127\.0\.0\.1:9090\/readyz/);
    assert.equal(gw.status, 0, gw.stderr);
    assert.match(gw.stdout, new RegExp(`HTTP_PROXY=http://<agent>:<token>@${FULLNAME}\\.${NAMESPACE}\\.svc\\.cluster\\.local:8080`));
  });
});
