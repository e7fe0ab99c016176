/**
 * The restricted Pod Security Standard over every pod the chart renders (Deployments, Jobs,
 * CronJobs, the gateway, the injector) with the defaults and every ci values file: no
 * violation anywhere, and exactly one declared exception, the hostPath opt-in of
 * ci/hostpath-values.yaml, which says so on the pod. The checker itself is shown to catch
 * each control on a deliberately bad pod, so a pass means something.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ciCases, helmBin, render } from './helm.js';
import type { Manifest } from './k8s.js';
import { pods } from './policy.js';
import { EXCEPTION_ANNOTATION, checkRestricted, type Finding } from './restricted.js';

const cases = ciCases();
const rendered = new Map<string, Manifest[]>();

before(async () => {
  helmBin();
  await Promise.all(cases.map(async (c) => rendered.set(c.name, await render({ values: c.values }))));
});

describe('restricted Pod Security Standard: the checker', () => {
  const good = {
    securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
    containers: [{ name: 'a', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] } } }],
    volumes: [{ name: 'v', emptyDir: {} }, { name: 'c', csi: { driver: 'x' } }],
  };

  it('passes a pod that follows every rule', () => {
    assert.deepEqual(checkRestricted({}, good), { violations: [], exceptions: [] });
  });

  it('names every control a bad pod breaks, init containers, native sidecars and ephemeral containers included', () => {
    const bad = {
      hostNetwork: true,
      hostPID: true,
      hostIPC: true,
      securityContext: { runAsUser: 0, seccompProfile: { type: 'Unconfined' }, sysctls: [{ name: 'kernel.msgmax', value: '1' }], seLinuxOptions: { type: 'spc_t' } },
      volumes: [{ name: 'h', hostPath: { path: '/' } }, { name: 'n', nfs: { server: 'x', path: '/' } }],
      containers: [
        {
          name: 'a',
          ports: [{ containerPort: 80, hostPort: 80 }],
          securityContext: { privileged: true, capabilities: { add: ['SYS_ADMIN'] }, procMount: 'Unmasked', appArmorProfile: { type: 'Unconfined' } },
        },
      ],
      initContainers: [{ name: 'native', restartPolicy: 'Always', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, runAsNonRoot: false } }],
      ephemeralContainers: [{ name: 'debug', securityContext: { seLinuxOptions: { user: 'root' } } }],
    };
    const meta = { annotations: { 'container.apparmor.security.beta.kubernetes.io/a': 'unconfined' } };
    const { violations, exceptions } = checkRestricted(meta, bad);
    assert.deepEqual(exceptions, []);
    const controls = new Set(violations.map((v) => v.control));
    for (const c of [
      'Host Namespaces',
      'HostPath Volumes',
      'Volume Types',
      'Running as Non-root user',
      'Seccomp',
      'Sysctls',
      'SELinux',
      'AppArmor',
      'Privileged Containers',
      'Capabilities',
      'Privilege Escalation',
      'Running as Non-root',
      '/proc Mount Type',
      'Host Ports',
    ]) {
      assert.ok(controls.has(c), `control ${c} not reported: ${JSON.stringify(violations, null, 1)}`);
    }
    const paths = violations.map((v) => v.path);
    assert.ok(paths.includes('spec.initContainers[0](native).securityContext.runAsNonRoot'), 'the native sidecar is checked');
    assert.ok(paths.includes('spec.ephemeralContainers[0](debug).securityContext.allowPrivilegeEscalation'), 'ephemeral containers are checked');
    assert.ok(paths.includes('spec.containers[0](a).securityContext.capabilities.drop'));
  });

  it('a hostPath is an exception only when the pod declares that volume, and still a violation otherwise', () => {
    const spec = { ...good, volumes: [{ name: 'sanctum-vault', hostPath: { path: '/run' } }, { name: 'other', hostPath: { path: '/etc' } }] };
    const meta = { annotations: { [EXCEPTION_ANNOTATION]: 'hostPath volume sanctum-vault: because' } };
    const r = checkRestricted(meta, spec);
    assert.deepEqual(r.exceptions.map((f) => f.path), ['spec.volumes[0](sanctum-vault).hostPath']);
    assert.deepEqual(r.violations.map((f) => f.path), ['spec.volumes[1](other).hostPath']);
  });
});

describe('restricted Pod Security Standard: every rendered pod of every ci values file', () => {
  for (const c of cases) {
    it(`${c.name}: no violation${c.name === 'hostpath' ? ' except the declared hostPath opt-in' : ''}`, () => {
      const ps = pods(rendered.get(c.name)!);
      assert.ok(ps.length >= 1, 'no pod rendered');
      const exceptions: Array<Finding & { pod: string }> = [];
      for (const p of ps) {
        const where = `${p.workload.kind}/${p.workload.metadata.name}`;
        const r = checkRestricted(p.meta, p.spec);
        assert.deepEqual(r.violations, [], `${where} breaks the restricted profile`);
        exceptions.push(...r.exceptions.map((e) => ({ ...e, pod: where })));
      }
      if (c.name !== 'hostpath') {
        assert.deepEqual(exceptions, [], 'only ci/hostpath-values.yaml may declare an exception');
        return;
      }
      // The one flagged exception: the vault socket's hostPath, and the pod says why.
      assert.equal(exceptions.length, 1, JSON.stringify(exceptions));
      assert.equal(exceptions[0]!.control, 'HostPath Volumes');
      assert.equal(exceptions[0]!.path, 'spec.volumes[3](sanctum-vault).hostPath');
      const pod = ps.find((p) => `${p.workload.kind}/${p.workload.metadata.name}` === exceptions[0]!.pod)!;
      assert.match(pod.meta.annotations[EXCEPTION_ANNOTATION], /^hostPath volume sanctum-vault: vault\.socket\.allowHostPath=true; the baseline and restricted Pod Security Standards refuse hostPath volumes$/);
    });
  }

  it('the kinds checked include Jobs and CronJobs', () => {
    const kinds = new Set(cases.flatMap((c) => pods(rendered.get(c.name)!).map((p) => p.workload.kind)));
    for (const k of ['Deployment', 'Job', 'CronJob']) assert.ok(kinds.has(k), `no ${k} among the rendered pods`);
  });
});
