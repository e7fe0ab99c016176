/**
 * The chart's injector mode, and the promise that ties the two ways of adding the sidecar
 * together: a pod the running injector patched carries exactly the sidecar container,
 * volumes, agent environment and mounts that the chart's named templates render for the
 * same settings. The injector is started with the settings ConfigMap the chart renders;
 * the named templates are rendered by helm through a test-only chart that includes them.
 * Also: the webhook configuration, Service, Deployment and cert-manager objects point at
 * each other, the Secret-based certificate variant, and the injector's built-in defaults
 * equal the chart's values.yaml.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_SETTINGS, checkSettings, loadSettingsFile, type InjectorSettings } from '../../src/injector/settings.js';
import type { InjectorServer } from '../../src/injector/server.js';
import { admit, fixture, makeTls, patched, startTestInjector, type Tls } from '../helpers/injector.js';
import { CHART, CI_DIR, FIXTURES, FULLNAME, NAMESPACE, helm, helmBin, render, templateArgs } from './helm.js';
import { unknownFields, validateManifest, type Manifest } from './k8s.js';
import { byKind, one, type Obj } from './policy.js';
import { checkRestricted } from './restricted.js';

const INJECTOR = `${FULLNAME}-injector`;
const ciValues = [join(CI_DIR, 'injector-values.yaml')];
const APP_VERSION = (parseYaml(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as Obj).appVersion as string;
const chartValues = parseYaml(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Obj;

let work: string;
let tls: Tls;
let docs: Manifest[];

before(async () => {
  helmBin();
  work = mkdtempSync(join(tmpdir(), 'sanctum-injector-chart-'));
  tls = await makeTls();
  docs = await render({ values: ciValues });
  // The test-only chart that renders the named templates, with this chart as its dependency.
  const chart = join(work, 'injection-chart');
  cpSync(join(FIXTURES, 'injection-chart'), chart, { recursive: true });
  mkdirSync(join(chart, 'charts'));
  cpSync(CHART, join(chart, 'charts', 'sanctum-sidecar'), { recursive: true });
});
after(async () => {
  await tls?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The injector settings the chart renders (its ConfigMap), loaded and checked as the injector does. */
async function settingsOf(rendered: readonly Manifest[], name: string): Promise<InjectorSettings> {
  const file = join(work, `${name}.values.json`);
  writeFileSync(file, one(rendered, 'ConfigMap', INJECTOR).data['values.json']);
  const s = await loadSettingsFile(file);
  assert.deepEqual(checkSettings(s), [], 'the chart rendered settings the injector refuses');
  return s;
}

/** The named templates rendered by helm for these settings (plus per-pod value overrides) and sidecar kind. */
async function namedTemplates(s: InjectorSettings, overrides: Obj, native: boolean): Promise<Obj> {
  const v = structuredClone(s.values) as Obj;
  for (const [path, value] of Object.entries(overrides)) {
    const keys = path.split('.');
    let o = v;
    for (const k of keys.slice(0, -1)) o = o[k];
    o[keys.at(-1)!] = value;
  }
  const [repository, tag] = s.image.split(/:(?=[^:/]+$)/);
  const file = join(work, `named-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify({ sanctum: { ...v, image: { repository, tag, digest: '', pullPolicy: s.imagePullPolicy } }, native }));
  const res = await helm([...templateArgs({ chart: join(work, 'injection-chart'), values: [file], kubeVersion: s.kubeVersion.replace(/^v/, '') }), '--show-only', 'templates/pod.yaml']);
  assert.equal(res.status, 0, res.stderr);
  return (parseYaml(res.stdout) as Obj).spec as Obj;
}

/** The patched pod holds exactly what the named templates render. */
function assertSameAsNamedTemplates(pod: Obj, expected: Obj, native: boolean): void {
  const sidecar = native ? pod.spec.initContainers[0] : pod.spec.containers.at(-1);
  const want = native ? expected.initContainers[0] : expected.containers.at(-1);
  assert.equal(sidecar.name, 'sanctum-sidecar');
  assert.deepStrictEqual(sidecar, want, 'the injected container differs from sanctum-sidecar.container');
  const vols = expected.volumes as Obj[];
  assert.deepStrictEqual((pod.spec.volumes as Obj[]).slice(-vols.length), vols, 'the injected volumes differ from sanctum-sidecar.volumes');
  const wantAgent = expected.containers[0];
  const agents = (pod.spec.containers as Obj[]).filter((c) => c.name !== 'sanctum-sidecar');
  for (const agent of agents) {
    assert.deepStrictEqual((agent.env as Obj[]).slice(0, wantAgent.env.length), wantAgent.env, `${agent.name}: env differs from sanctum-sidecar.agentEnv`);
    const mounts = (wantAgent.volumeMounts ?? []) as Obj[];
    if (mounts.length > 0) assert.deepStrictEqual((agent.volumeMounts as Obj[]).slice(-mounts.length), mounts, `${agent.name}: mounts differ from sanctum-sidecar.agentVolumeMounts`);
  }
}

async function assertAdmissible(pod: Obj): Promise<void> {
  assert.deepEqual(await validateManifest(pod as Manifest), []);
  assert.deepEqual(unknownFields(pod as Manifest), []);
  assert.deepEqual(checkRestricted(pod.metadata, pod.spec), { violations: [], exceptions: [] });
}

describe('injector mode: what the chart renders', () => {
  it('the webhook, Service, Deployment and serving certificate point at each other', () => {
    assert.equal(byKind(docs, 'ConfigMap').length, 1, 'no routes ConfigMap: injected pods mount their own namespace\'s');
    assert.equal(docs.some((d) => d.kind === 'Deployment' && d.metadata.name === FULLNAME), false, 'no agent workload');
    const mwc = one(docs, 'MutatingWebhookConfiguration');
    const svc = one(docs, 'Service', INJECTOR);
    const dep = one(docs, 'Deployment', INJECTOR);
    const cert = one(docs, 'Certificate', INJECTOR);
    assert.equal(mwc.metadata.namespace, undefined, 'cluster-scoped');
    assert.equal(mwc.metadata.annotations['cert-manager.io/inject-ca-from'], `${NAMESPACE}/${INJECTOR}`);
    assert.deepEqual(mwc.webhooks.map((w: Obj) => [w.name, w.clientConfig.service.path]), [
      ['inject.sidecar.sanctumai.io', '/mutate'],
      ['strict.inject.sidecar.sanctumai.io', '/mutate/strict'],
    ]);
    for (const w of mwc.webhooks as Obj[]) {
      assert.deepEqual(w.admissionReviewVersions, ['v1']);
      assert.equal(w.sideEffects, 'None');
      assert.equal(w.failurePolicy, 'Fail');
      assert.deepEqual(w.rules, [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }]);
      assert.deepEqual(w.clientConfig.service, { name: INJECTOR, namespace: NAMESPACE, path: w.clientConfig.service.path, port: 443 });
      assert.equal(w.clientConfig.caBundle, undefined, 'cert-manager injects it');
      assert.deepEqual(w.namespaceSelector.matchLabels, { 'sidecar.sanctumai.io/injection': 'enabled' });
      const own = (w.namespaceSelector.matchExpressions as Obj[]).find((e) => e.key === 'kubernetes.io/metadata.name')!;
      assert.ok(own.values.includes(NAMESPACE) && own.values.includes('kube-system'), 'the release namespace and kube-system are never selected');
      assert.deepEqual(w.objectSelector.matchExpressions, [{ key: 'sidecar.sanctumai.io/inject', operator: 'NotIn', values: ['false'] }]);
    }
    const strictOps = (mwc.webhooks as Obj[]).map((w) => (w.namespaceSelector.matchExpressions as Obj[]).find((e) => e.key === 'sidecar.sanctumai.io/strict')!.operator);
    assert.deepEqual(strictOps, ['NotIn', 'In'], 'every namespace goes to exactly one of the two webhooks');
    assert.deepEqual(svc.spec.ports, [{ name: 'https', port: 443, targetPort: 'https', protocol: 'TCP' }]);
    const pod = dep.spec.template.spec as Obj;
    for (const [k, val] of Object.entries(svc.spec.selector as Record<string, string>)) assert.equal(dep.spec.template.metadata.labels[k], val);
    const c = pod.containers[0];
    assert.deepEqual(c.ports, [{ name: 'https', containerPort: 8443, protocol: 'TCP' }]);
    assert.deepEqual(c.args.slice(0, 9), ['injector', '--listen', '0.0.0.0:8443', '--tls-cert', '/etc/sanctum-injector/tls/tls.crt', '--tls-key', '/etc/sanctum-injector/tls/tls.key', '--values', '/etc/sanctum-injector/settings/values.json']);
    assert.deepEqual(c.args.slice(-2), ['--strict-namespaces', 'payments']);
    assert.equal(c.readinessProbe.httpGet.scheme, 'HTTPS');
    const vols = new Map<string, Obj>((pod.volumes as Obj[]).map((v) => [v.name as string, v]));
    assert.equal(vols.get('tls')?.secret.secretName, cert.spec.secretName);
    assert.equal(vols.get('tls')?.secret.defaultMode, 0o400);
    assert.equal(vols.get('settings')?.configMap.name, INJECTOR);
    assert.equal(pod.automountServiceAccountToken, false, 'the injector never calls the API');
    assert.ok(cert.spec.dnsNames.includes(`${INJECTOR}.${NAMESPACE}.svc`), 'the name the API server dials');
    // The serving certificate comes from the chart's CA issuer, whose CA is self-signed.
    const caIssuer = one(docs, 'Issuer', cert.spec.issuerRef.name);
    const caCert = one(docs, 'Certificate', `${INJECTOR}-ca`);
    assert.equal(caIssuer.spec.ca.secretName, caCert.spec.secretName);
    assert.equal(caCert.spec.isCA, true);
    assert.deepEqual(one(docs, 'Issuer', caCert.spec.issuerRef.name).spec, { selfSigned: {} });
    assert.equal(one(docs, 'PodDisruptionBudget', INJECTOR).spec.minAvailable, 1);
  });

  it('certificates from a Secret: caBundle in both webhooks, no cert-manager objects; and the refusals', async () => {
    const ca = Buffer.from(tls.caPem).toString('base64');
    const secret = await render({ values: ciValues, set: ['injector.tls.source=secret', 'injector.tls.existingSecret=injector-tls', `injector.tls.caBundle=${ca}`, 'injector.failurePolicy=Ignore'] });
    const mwc = one(secret, 'MutatingWebhookConfiguration');
    assert.equal(mwc.metadata.annotations, undefined);
    for (const w of mwc.webhooks as Obj[]) {
      assert.equal(w.clientConfig.caBundle, ca);
      assert.equal(w.failurePolicy, 'Ignore');
    }
    assert.equal(byKind(secret, 'Certificate').length + byKind(secret, 'Issuer').length, 0);
    const tlsVol = (one(secret, 'Deployment', INJECTOR).spec.template.spec.volumes as Obj[]).find((v) => v.name === 'tls');
    assert.equal(tlsVol?.secret.secretName, 'injector-tls');
    for (const d of secret) assert.deepEqual(await validateManifest(d), [], `${d.kind}/${d.metadata.name}`);

    const noCa = await helm(templateArgs({ values: ciValues, set: ['injector.tls.source=secret', 'injector.tls.existingSecret=injector-tls'] }));
    assert.notEqual(noCa.status, 0);
    assert.match(noCa.stderr, /injector\.tls\.source=secret needs injector\.tls\.existingSecret .* and injector\.tls\.caBundle/);
    const single = await helm(templateArgs({ values: ciValues, set: ['injector.replicas=1'] }));
    assert.notEqual(single.status, 0);
    assert.match(single.stderr, /failurePolicy=Fail with a single injector replica blocks pod creation/);
  });

  it("the injector's built-in defaults are the chart's values.yaml", async () => {
    const s = await settingsOf(await render({ set: ['mode=injector'] }), 'defaults');
    assert.deepEqual({ ...s, kubeVersion: DEFAULT_SETTINGS.kubeVersion }, DEFAULT_SETTINGS);
    assert.equal(DEFAULT_SETTINGS.image, `${chartValues.image.repository}:${APP_VERSION}`);
    assert.equal(DEFAULT_SETTINGS.values.routes.existingConfigMap, chartValues.injector.defaults.routesConfigMap);
  });

  it('NOTES say what was rendered and how to opt a namespace in', async () => {
    const res = await helm(['install', 't', CHART, '--dry-run=client', '--namespace', NAMESPACE, '-f', ciValues[0]!]);
    assert.equal(res.status, 0, res.stderr);
    assert.match(res.stdout, /The sidecar injector \(mode=injector\): deployment\/t-sanctum-sidecar-injector \(2 replicas\)/);
    assert.match(res.stdout, /failurePolicy Fail \(pods there are not created while no injector\s+answers/);
    assert.match(res.stdout, /kubectl label namespace <ns> sidecar\.sanctumai\.io\/injection=enabled/);
    assert.match(res.stdout, /kubectl -n <ns> create configmap agent-routes/);
    assert.match(res.stdout, /kubectl label namespace <ns> sidecar\.sanctumai\.io\/strict=true/);
  });
});

describe('injector mode: an injected pod runs the sidecar the named templates render', () => {
  let injector: InjectorServer;
  let settings: InjectorSettings;
  before(async () => {
    settings = await settingsOf(docs, 'ci');
    injector = await startTestInjector(tls, settings);
  });
  after(() => injector?.close());

  const cases: Array<{ fixture: string; overrides: Obj; native: boolean; edit?: (review: Obj) => void }> = [
    {
      fixture: 'deployment-pod',
      overrides: { 'routes.existingConfigMap': 'research-routes', 'vault.key.existingSecret': 'research-agent-key', 'vault.agent': 'research-agent' },
      native: true,
    },
    {
      fixture: 'job-pod',
      overrides: { 'routes.existingConfigMap': 'report-routes', 'vault.tcp.address': 'sanctum-vault.vaults.svc.cluster.local:7600' },
      native: true,
    },
    { fixture: 'malformed-annotations-pod', overrides: { 'vault.key.existingSecret': 'research-agent-key' }, native: true },
    {
      fixture: 'deployment-pod (classic by annotation)',
      overrides: { 'routes.existingConfigMap': 'research-routes', 'vault.key.existingSecret': 'research-agent-key', 'vault.agent': 'research-agent' },
      native: false,
      edit: (r) => (r.request.object.metadata.annotations['sidecar.sanctumai.io/mode'] = 'classic'),
    },
  ];
  for (const c of cases) {
    it(`${c.fixture}: identical container, volumes, agent env and mounts; the pod passes the schema and the restricted profile`, async () => {
      const review = await fixture(c.fixture.split(' ')[0]!);
      c.edit?.(review);
      const pod = patched(review, await admit(injector.address.port, tls.caPem, review));
      await assertAdmissible(pod);
      assertSameAsNamedTemplates(pod, await namedTemplates(settings, c.overrides, c.native), c.native);
    });
  }

  it('the same on Kubernetes 1.29 with interception, a socket volume, a passphrase and extra env and volumes (classic: the drain delay replaces the preStop sleep)', async () => {
    const file = join(work, 'variant-values.yaml');
    writeFileSync(
      file,
      JSON.stringify({
        sidecar: {
          mode: 'classic',
          extraEnv: [{ name: 'NODE_OPTIONS', value: '--max-old-space-size=192' }],
          extraVolumes: [{ name: 'upstream-ca', configMap: { name: 'upstream-ca' } }],
          extraVolumeMounts: [{ name: 'upstream-ca', mountPath: '/etc/upstream-ca', readOnly: true }],
        },
        vault: {
          transport: 'socket',
          socket: { path: '/run/sanctum/vault.sock', volume: { csi: { driver: 'socket.sanctumai.io', readOnly: true } } },
          passphrase: { existingSecret: 'key-passphrase' },
        },
        interception: { enabled: true, caSecret: 'interception-ca' },
        agent: { noProxy: ['.internal'] },
      }),
    );
    const variant = await render({ values: [...ciValues, file], kubeVersion: '1.29.4' });
    const s = await settingsOf(variant, 'variant');
    assert.equal(s.kubeVersion, 'v1.29.4');
    const inj = await startTestInjector(tls, s);
    try {
      const review = await fixture('deployment-pod');
      const pod = patched(review, await admit(inj.address.port, tls.caPem, review));
      await assertAdmissible(pod);
      const expected = await namedTemplates(s, { 'routes.existingConfigMap': 'research-routes', 'vault.key.existingSecret': 'research-agent-key', 'vault.agent': 'research-agent' }, false);
      assertSameAsNamedTemplates(pod, expected, false);
      const sc = (pod.spec.containers as Obj[]).find((x) => x.name === 'sanctum-sidecar')!;
      assert.ok((sc.env as Obj[]).some((e) => e.name === 'SANCTUM_SIDECAR_DRAIN_DELAY' && e.value === '5s'));
      assert.equal(sc.lifecycle, undefined);
      assert.ok((pod.spec.containers[0].env as Obj[]).some((e) => e.name === 'NODE_EXTRA_CA_CERTS'), 'the agent trusts the interception CA');
      assert.ok((pod.spec.volumes as Obj[]).some((v) => v.name === 'sanctum-vault' && v.csi), 'the socket volume');
    } finally {
      await inj.close();
    }
  });
});
