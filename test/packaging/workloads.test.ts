/**
 * Workload kinds and lifecycle in the chart's renders: the agent as a Job or CronJob with a
 * native sidecar (so the Job completes when the agent exits), runtimeClassName, extra
 * volumes of the sidecar's pod in both modes, a PDB only when more than one replica always
 * exists, the shutdown grace of classic and gateway containers on both sides of Kubernetes
 * 1.30 (preStop sleep vs the sidecar's own drain delay), the vault egress rule, and NOTES
 * that say what was rendered and why.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { CHART, CI_DIR, FULLNAME, NAMESPACE, RELEASE, helm, helmBin, render } from './helm.js';
import { unknownFields, validateManifest, type Manifest } from './k8s.js';
import { SANCTUM_CONTAINER, byKind, envValue, one, pods, type Obj } from './policy.js';

const ci = (name: string): string[] => [join(CI_DIR, `${name}-values.yaml`)];
let job: Manifest[];
let cron: Manifest[];
let gateway: Manifest[];

before(async () => {
  helmBin();
  [job, cron, gateway] = await Promise.all([render({ values: ci('job') }), render({ values: ci('cronjob') }), render({ values: ci('gateway') })]);
});

async function valid(docs: readonly Manifest[]): Promise<void> {
  for (const d of docs) {
    assert.deepEqual(await validateManifest(d), [], `${d.kind}/${d.metadata.name}`);
    assert.deepEqual(unknownFields(d), [], `${d.kind}/${d.metadata.name}`);
  }
}

/** A native sidecar: the only init container, restartPolicy Always; the agent is the only regular container. */
function assertNativeJobPod(spec: Obj, restartPolicy: string): void {
  assert.equal(spec.restartPolicy, restartPolicy, 'a Job pod restarts Never or OnFailure');
  assert.equal(spec.initContainers.length, 1);
  const sc = spec.initContainers[0];
  assert.equal(sc.name, SANCTUM_CONTAINER);
  // KEP-753: an init container with restartPolicy Always runs beside the app containers and is
  // stopped once they have all exited, so it never holds the Job's pod open.
  assert.equal(sc.restartPolicy, 'Always');
  assert.equal(sc.startupProbe.httpGet.path, '/readyz', 'the agent starts only once the sidecar is ready');
  assert.deepEqual(
    spec.containers.map((c: Obj) => c.name),
    ['agent'],
    'no regular container besides the agent: nothing else can keep the pod running',
  );
  assert.equal(envValue(spec.containers[0], 'HTTP_PROXY'), 'http://127.0.0.1:8080');
}

describe('chart: Job and CronJob agents', () => {
  it('a Job validates against the Kubernetes schemas, with a native sidecar that stops when the agent exits', async () => {
    await valid(job);
    assert.equal(byKind(job, 'Deployment').length, 0);
    const j = one(job, 'Job', FULLNAME);
    assert.equal(j.apiVersion, 'batch/v1');
    assert.equal(j.spec.backoffLimit, 1);
    assert.equal(j.spec.activeDeadlineSeconds, 600);
    assert.equal(j.spec.ttlSecondsAfterFinished, 600);
    assert.equal(j.spec.selector, undefined, 'the Job controller generates its selector');
    assertNativeJobPod(j.spec.template.spec, 'Never');
    assert.equal(j.spec.template.spec.runtimeClassName, 'gvisor');
    assert.equal(j.spec.template.metadata.labels['app.kubernetes.io/component'], 'agent');
  });

  it('a CronJob validates, and each of its Jobs gets the same native sidecar', async () => {
    await valid(cron);
    const c = one(cron, 'CronJob', FULLNAME);
    assert.equal(c.apiVersion, 'batch/v1');
    assert.equal(c.spec.schedule, '*/30 * * * *');
    assert.equal(c.spec.timeZone, 'Etc/UTC');
    assert.equal(c.spec.concurrencyPolicy, 'Forbid');
    assert.equal(c.spec.startingDeadlineSeconds, 300);
    assert.equal(c.spec.jobTemplate.spec.backoffLimit, 3);
    assertNativeJobPod(c.spec.jobTemplate.spec.template.spec, 'OnFailure');
  });

  it('gateway mode runs a Job agent on any cluster: no sidecar in its pod, the proxy is the gateway', async () => {
    const docs = await render({ values: ci('gateway'), set: ['agent.kind=Job'], kubeVersion: '1.27.4' });
    await valid(docs);
    const spec = one(docs, 'Job', `${FULLNAME}-agent`).spec.template.spec as Obj;
    assert.equal(spec.initContainers, undefined);
    assert.deepEqual(spec.containers.map((c: Obj) => c.name), ['agent']);
    assert.match(envValue(spec.containers[0], 'HTTP_PROXY')!, /@t-sanctum-sidecar\.agents\.svc\.cluster\.local:8080$/);
  });
});

describe('chart: volumes, PDB, shutdown grace, network policy', () => {
  it('gateway extraVolumes and extraVolumeMounts render together in the gateway pod, not in the agent pod', () => {
    const gw = one(gateway, 'Deployment', FULLNAME).spec.template.spec as Obj;
    assert.deepEqual((gw.volumes as Obj[]).find((v) => v.name === 'private-ca'), { name: 'private-ca', configMap: { name: 'private-upstream-ca' } });
    const mount = (gw.containers[0].volumeMounts as Obj[]).find((m) => m.name === 'private-ca');
    assert.deepEqual(mount, { name: 'private-ca', mountPath: '/etc/sanctum-private-ca', readOnly: true });
    const agent = one(gateway, 'Deployment', `${FULLNAME}-agent`).spec.template.spec as Obj;
    assert.equal((agent.volumes as Obj[]).some((v) => v.name === 'private-ca'), false);
  });

  it('sidecar mode: extraVolumes join the agent pod and the sidecar mounts them', async () => {
    const docs = await render({ set: ['sidecar.extraVolumes[0].name=scratch', 'sidecar.extraVolumes[0].emptyDir.medium=Memory', 'sidecar.extraVolumeMounts[0].name=scratch', 'sidecar.extraVolumeMounts[0].mountPath=/scratch'] });
    const spec = one(docs, 'Deployment', FULLNAME).spec.template.spec as Obj;
    assert.deepEqual((spec.volumes as Obj[]).find((v) => v.name === 'scratch'), { name: 'scratch', emptyDir: { medium: 'Memory' } });
    assert.ok((spec.initContainers[0].volumeMounts as Obj[]).some((m) => m.name === 'scratch' && m.mountPath === '/scratch'));
  });

  it('the gateway PDB exists only when at least two replicas always exist', async () => {
    assert.equal(one(gateway, 'PodDisruptionBudget', FULLNAME).spec.minAvailable, 1, 'autoscaling minReplicas 2');
    const [hpaMin1, single, three] = await Promise.all([
      render({ values: ci('gateway'), set: ['gateway.autoscaling.minReplicas=1'] }),
      render({ values: ci('gateway'), set: ['gateway.autoscaling.enabled=false', 'gateway.replicas=1'] }),
      render({ values: ci('gateway'), set: ['gateway.autoscaling.enabled=false', 'gateway.replicas=3'] }),
    ]);
    assert.equal(byKind(hpaMin1, 'PodDisruptionBudget').length, 0, 'the HPA may scale to one replica');
    assert.equal(byKind(single, 'PodDisruptionBudget').length, 0, 'one replica');
    assert.equal(one(three, 'PodDisruptionBudget', FULLNAME).spec.minAvailable, 1);
    assert.equal(one(three, 'Deployment', FULLNAME).spec.replicas, 3);
  });

  it('shutdown grace: a preStop sleep from Kubernetes 1.30, the sidecar\'s own drain delay before; native needs neither', async () => {
    const [gw129, classic129, native129] = await Promise.all([
      render({ values: ci('gateway'), kubeVersion: '1.29.6' }),
      render({ values: ci('classic'), kubeVersion: '1.29.6' }),
      render({ kubeVersion: '1.29.6' }),
    ]);
    const gwOld = one(gw129, 'Deployment', FULLNAME).spec.template.spec.containers[0];
    assert.equal(gwOld.lifecycle, undefined);
    assert.equal(envValue(gwOld, 'SANCTUM_SIDECAR_DRAIN_DELAY'), '5s');
    const gwNew = one(gateway, 'Deployment', FULLNAME).spec.template.spec.containers[0];
    assert.equal(gwNew.lifecycle.preStop.sleep.seconds, 5);
    assert.equal(envValue(gwNew, 'SANCTUM_SIDECAR_DRAIN_DELAY'), undefined);
    const classicOld = (one(classic129, 'Deployment', FULLNAME).spec.template.spec.containers as Obj[]).find((c) => c.name === SANCTUM_CONTAINER)!;
    assert.equal(envValue(classicOld, 'SANCTUM_SIDECAR_DRAIN_DELAY'), '5s');
    const nativeOld = one(native129, 'Deployment', FULLNAME).spec.template.spec.initContainers[0];
    assert.equal(nativeOld.lifecycle, undefined);
    assert.equal(envValue(nativeOld, 'SANCTUM_SIDECAR_DRAIN_DELAY'), undefined, 'a native sidecar gets SIGTERM after the agent has exited');
  });

  it('the vault egress rule: the namespace of a <service>.<namespace>.svc address, only the vault port', async () => {
    const [byName, byIp] = await Promise.all([
      render({ set: ['networkPolicy.egress.enabled=true'] }),
      render({ set: ['networkPolicy.egress.enabled=true', 'vault.tcp.address=10.0.0.7:7600'] }),
    ]);
    const rule = (docs: Manifest[]): Obj => (one(docs, 'NetworkPolicy', FULLNAME).spec.egress as Obj[]).find((r) => r.ports?.[0]?.port === 7600)!;
    assert.deepEqual(rule(byName), {
      to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'sanctum' } } }],
      ports: [{ port: 7600, protocol: 'TCP' }],
    });
    assert.deepEqual(rule(byIp), { ports: [{ port: 7600, protocol: 'TCP' }] });
    for (const p of pods(byName)) assert.equal((p.spec.volumes as Obj[]).some((v) => v.hostPath), false, 'the default needs no hostPath');
  });
});

describe('chart: NOTES say which mode was rendered and why', () => {
  const install = (values: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> =>
    helm(['install', RELEASE, CHART, '--dry-run=client', '--namespace', NAMESPACE, ...values.flatMap((v) => ['-f', v])]);

  it('Job, CronJob, classic, gateway and the hostPath opt-in', async () => {
    const [j, c, classic, gw, hostpath] = await Promise.all([install(ci('job')), install(ci('cronjob')), install(ci('classic')), install(ci('gateway')), install(ci('hostpath'))]);
    for (const r of [j, c, classic, gw, hostpath]) assert.equal(r.status, 0, r.stderr);
    assert.match(j.stdout, /The agent as a Job with a native sidecar \(sidecar\.mode=native; Kubernetes >= 1\.29\)/);
    assert.match(j.stdout, /so the Job completes when the agent\s+container exits/);
    assert.match(j.stdout, /A classic sidecar never exits and would keep the Job running forever: the chart refuses\s+that combination; on clusters older than 1\.29 run Jobs with mode=gateway/);
    assert.match(c.stdout, /The agent as a CronJob with a native sidecar/);
    assert.match(c.stdout, /kubectl -n agents create job --from=cronjob\/t-sanctum-sidecar/);
    assert.match(classic.stdout, /classic sidecar \(sidecar\.mode=classic\): a second regular container, for\s+clusters without native sidecars/);
    assert.match(classic.stdout, /keeps serving for 5s after the pod starts terminating \(a preStop sleep action\)/);
    assert.match(gw.stdout, /A shared egress gateway \(mode=gateway\), and the agent as a Deployment without a sidecar/);
    assert.match(hostpath.stdout, /WARNING: vault\.socket\.allowHostPath=true: the pods mount a hostPath volume/);
    assert.doesNotMatch(j.stdout, /WARNING/);
  });
});
