/**
 * The injector over HTTPS with real AdmissionReview fixtures (a Deployment's pod, a Job's
 * pod, a pod already injected, a pod without the annotation, malformed annotations): the
 * JSON Patch it answers, applied to each pod, gives a pod that passes the Kubernetes schema,
 * the unknown-field check and the restricted Pod Security profile, with the sidecar, the
 * agent's proxy environment and the marker that stops a second injection.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_SETTINGS } from '../../../src/injector/settings.js';
import type { InjectorServer } from '../../../src/injector/server.js';
import { admit, fixture, makeTls, patchOf, patched, startTestInjector, type Obj, type Tls } from '../../helpers/injector.js';
import { unknownFields, validateManifest, type Manifest } from '../../packaging/k8s.js';
import { checkRestricted } from '../../packaging/restricted.js';

let tls: Tls;
let injector: InjectorServer;
let port: number;

before(async () => {
  tls = await makeTls();
  injector = await startTestInjector(tls, DEFAULT_SETTINGS);
  port = injector.address.port;
});
after(async () => {
  await injector.close();
  await tls.close();
});

const env = (c: Obj): Map<string, Obj> => new Map((c.env ?? []).map((e: Obj) => [e.name as string, e]));

/** Schema, unknown fields and the restricted profile: what the API server and Pod Security admission would check. */
async function assertAdmissible(pod: Obj): Promise<void> {
  const m = pod as Manifest;
  assert.deepEqual(await validateManifest(m), [], 'the patched pod fails the Pod schema');
  assert.deepEqual(unknownFields(m), [], 'the patched pod has fields Kubernetes does not define');
  assert.deepEqual(checkRestricted(pod.metadata, pod.spec), { violations: [], exceptions: [] }, 'the patched pod breaks the restricted profile');
}

describe('injector: AdmissionReview fixtures over HTTPS', () => {
  it("a Deployment's pod: a native sidecar first in initContainers, the agent's proxy environment, the volumes, the marker", async () => {
    const review = await fixture('deployment-pod');
    const res = await admit(port, tls.caPem, review);
    assert.equal(res.uid, review.request.uid);
    assert.equal(res.allowed, true);
    const pod = patched(review, res);
    await assertAdmissible(pod);

    const sc = pod.spec.initContainers[0];
    assert.equal(sc.name, 'sanctum-sidecar');
    assert.equal(sc.restartPolicy, 'Always');
    assert.equal(sc.image, 'ghcr.io/sanctumai/sanctum-sidecar:0.1.0');
    assert.equal(env(sc).get('SANCTUM_SIDECAR_VAULT_AGENT')?.value, 'research-agent');
    assert.equal(env(sc).get('SANCTUM_SIDECAR_VAULT_TCP')?.value, 'sanctum-vault.sanctum.svc.cluster.local:7600');
    assert.equal(sc.startupProbe.httpGet.path, '/readyz');
    const vols = new Map<string, Obj>(pod.spec.volumes.map((v: Obj) => [v.name as string, v]));
    assert.equal(vols.get('sanctum-routes')?.configMap.name, 'research-routes', 'routes-configmap annotation');
    assert.equal(vols.get('sanctum-key')?.secret.secretName, 'research-agent-key', 'agent-key-secret annotation');
    assert.equal(vols.get('sanctum-key')?.secret.defaultMode, 0o400);
    assert.ok(vols.has('work'), "the pod's own volume stays");

    const agent = pod.spec.containers[0];
    assert.equal(pod.spec.containers.length, 1);
    assert.deepEqual(
      agent.env.map((e: Obj) => e.name),
      ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'NODE_USE_ENV_PROXY', 'NO_PROXY', 'no_proxy', 'LOG_LEVEL', 'OPENAI_API_KEY'],
      'the proxy variables come first, the container keeps its own',
    );
    assert.equal(env(agent).get('HTTP_PROXY')?.value, 'http://127.0.0.1:8080');
    assert.equal(env(agent).get('NO_PROXY')?.value, 'localhost,127.0.0.1,::1');
    assert.equal(env(agent).has('SANCTUM_SIDECAR_KEY_FILE'), false);
    assert.equal(agent.volumeMounts.some((m: Obj) => m.name.startsWith('sanctum-')), false, 'the agent mounts neither the key nor the routes');

    assert.equal(pod.metadata.annotations['sidecar.sanctumai.io/status'], 'injected');
    assert.equal(pod.metadata.annotations['sidecar.sanctumai.io/injector-warnings'], undefined);
    assert.equal(pod.spec.securityContext.fsGroup, 65532, 'fsGroup added so the sidecar can read its 0400 key');
    assert.equal(pod.spec.securityContext.runAsUser, 1000, "the pod's own securityContext stays");
    assert.deepEqual(res.warnings, ['the pod had no securityContext.fsGroup; 65532 was set so the sidecar can read its key Secret']);
  });

  it("a Job's pod: the native sidecar goes before the Job's own init container, so the Job completes when the agent exits", async () => {
    const review = await fixture('job-pod');
    const res = await admit(port, tls.caPem, review);
    assert.equal(res.allowed, true);
    const pod = patched(review, res);
    await assertAdmissible(pod);
    assert.equal(pod.spec.restartPolicy, 'Never');
    assert.deepEqual(pod.spec.initContainers.map((c: Obj) => [c.name, c.restartPolicy ?? null]), [
      ['sanctum-sidecar', 'Always'],
      ['fetch-inputs', null],
    ]);
    assert.deepEqual(pod.spec.containers.map((c: Obj) => c.name), ['agent'], 'no regular container can keep the Job pod running');
    const sc = pod.spec.initContainers[0];
    assert.equal(env(sc).get('SANCTUM_SIDECAR_VAULT_TCP')?.value, 'sanctum-vault.vaults.svc.cluster.local:7600', 'vault-address annotation');
    assert.equal(env(sc).has('SANCTUM_SIDECAR_VAULT_AGENT'), false, "no vault-agent annotation: the routes ConfigMap's vault.agent decides");
    assert.equal(pod.spec.securityContext.fsGroup, 2000, "the pod's own fsGroup is kept (the sidecar gets it as a supplementary group)");
    assert.equal(res.warnings, undefined);
  });

  it('a pod already injected is allowed untouched, and so is a pod the webhook has just patched (never twice)', async () => {
    const review = await fixture('already-injected-pod');
    const res = await admit(port, tls.caPem, review);
    assert.deepEqual(res, { uid: review.request.uid, allowed: true });

    const first = await fixture('deployment-pod');
    const pod = patched(first, await admit(port, tls.caPem, first));
    const again = structuredClone(first);
    again.request.object = pod;
    const res2 = await admit(port, tls.caPem, again);
    assert.deepEqual(patchOf(res2), []);
    assert.equal(res2.allowed, true);
  });

  it('a pod without the annotation is allowed untouched, with no warning', async () => {
    const review = await fixture('no-annotation-pod');
    const res = await admit(port, tls.caPem, review);
    assert.deepEqual(res, { uid: review.request.uid, allowed: true });
  });

  it('malformed annotations: allowed, injected with the defaults, each unusable annotation named in a warning and on the pod', async () => {
    const review = await fixture('malformed-annotations-pod');
    const res = await admit(port, tls.caPem, review);
    assert.equal(res.allowed, true);
    const warnings = res.warnings as string[];
    for (const expected of [
      /^sidecar\.sanctumai\.io\/routes-configmap: "Research_Routes!" is not a valid ConfigMap name; the default is used$/,
      /^sidecar\.sanctumai\.io\/vault-address: "vault\.internal:http" is not host:port; the default vault address is used$/,
      /^sidecar\.sanctumai\.io\/mode: "sidecarish" is neither "native" nor "classic"; the default mode is used$/,
      /^sidecar\.sanctumai\.io\/routes-config-map: unknown annotation, ignored$/,
    ]) {
      assert.ok(warnings.some((w) => expected.test(w)), `no warning matching ${expected}: ${JSON.stringify(warnings)}`);
    }
    const pod = patched(review, res);
    await assertAdmissible(pod);
    const sc = pod.spec.initContainers[0];
    assert.equal(sc.restartPolicy, 'Always', 'default mode: native');
    assert.equal(env(sc).get('SANCTUM_SIDECAR_VAULT_TCP')?.value, 'sanctum-vault.sanctum.svc.cluster.local:7600', 'default vault address');
    const vols = new Map<string, Obj>(pod.spec.volumes.map((v: Obj) => [v.name as string, v]));
    assert.equal(vols.get('sanctum-routes')?.configMap.name, 'sanctum-sidecar-routes', 'default routes ConfigMap');
    assert.equal(vols.get('sanctum-key')?.secret.secretName, 'research-agent-key', 'the usable annotation is used');
    assert.match(pod.metadata.annotations['sidecar.sanctumai.io/injector-warnings'], /Research_Routes!.*sidecarish|sidecarish.*Research_Routes!/s);
  });

  it('an inject value that is neither "true" nor "false": not injected, the pod says why', async () => {
    const review = await fixture('deployment-pod');
    review.request.object.metadata.annotations['sidecar.sanctumai.io/inject'] = 'yes';
    const res = await admit(port, tls.caPem, review);
    assert.equal(res.allowed, true);
    assert.deepEqual(res.warnings, ['sidecar.sanctumai.io/inject: "yes" is neither "true" nor "false"; the sidecar was not injected']);
    const pod = patched(review, res);
    assert.equal(pod.spec.initContainers, undefined);
    assert.equal(pod.metadata.annotations['sidecar.sanctumai.io/status'], undefined);
    assert.match(pod.metadata.annotations['sidecar.sanctumai.io/injector-warnings'], /neither "true" nor "false"/);
  });

  it('inject "false" leaves the pod alone, even with other sanctum annotations', async () => {
    const review = await fixture('malformed-annotations-pod');
    review.request.object.metadata.annotations['sidecar.sanctumai.io/inject'] = 'false';
    assert.deepEqual(await admit(port, tls.caPem, review), { uid: review.request.uid, allowed: true });
  });

  it('a pod whose container already uses the sidecar port, or a sidecar name, is not injected and says why', async () => {
    const review = await fixture('deployment-pod');
    review.request.object.spec.containers[0].ports = [{ name: 'http', containerPort: 8080, protocol: 'TCP' }];
    const res = await admit(port, tls.caPem, review);
    assert.equal(res.allowed, true);
    assert.match(res.warnings.join('\n'), /container agent declares port 8080, which the sidecar listens on; the sidecar was not injected/);
    assert.equal(patched(review, res).spec.initContainers, undefined);

    const named = await fixture('deployment-pod');
    named.request.object.spec.volumes.push({ name: 'sanctum-key', emptyDir: {} });
    const res2 = await admit(port, tls.caPem, named);
    assert.match(res2.warnings.join('\n'), /already has volumes named sanctum-key/);
  });

  it('a container that sets a proxy variable itself keeps its value, and is told so', async () => {
    const review = await fixture('deployment-pod');
    review.request.object.spec.containers[0].env.push({ name: 'NO_PROXY', value: 'localhost,internal.example' });
    const res = await admit(port, tls.caPem, review);
    const pod = patched(review, res);
    const agentEnv = pod.spec.containers[0].env as Obj[];
    assert.equal(agentEnv.filter((e) => e.name === 'NO_PROXY').at(-1)!.value, 'localhost,internal.example', 'the last entry wins in Kubernetes');
    assert.ok((res.warnings as string[]).includes('container agent sets NO_PROXY itself; its own values win over the injected ones'));
  });
});
