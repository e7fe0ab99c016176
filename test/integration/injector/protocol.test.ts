/**
 * The webhook's HTTP contract: a malformed AdmissionReview is a 400 that says what is wrong,
 * an oversized body 413, a non-JSON body 415, other paths and methods 404/405; a request for
 * another kind (or operation) is allowed untouched; strict mode (the /mutate/strict path the
 * chart routes labelled namespaces to, a configured namespace, or the pod's own annotation)
 * refuses a pod with unusable annotations instead of injecting with defaults.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_SETTINGS, mergeValues } from '../../../src/injector/settings.js';
import type { InjectorServer } from '../../../src/injector/server.js';
import { admit, call, fixture, makeTls, patched, startTestInjector, type Tls } from '../../helpers/injector.js';

let tls: Tls;
let injector: InjectorServer;
let port: number;

before(async () => {
  tls = await makeTls();
  injector = await startTestInjector(tls, DEFAULT_SETTINGS, ['locked-down']);
  port = injector.address.port;
});
after(async () => {
  await injector.close();
  await tls.close();
});

describe('injector: malformed requests', () => {
  const cases: Array<{ name: string; body: string; message: RegExp }> = [
    { name: 'not JSON', body: '{"apiVersion": ', message: /the body is not JSON/ },
    { name: 'a JSON array', body: '[]', message: /not a JSON object/ },
    { name: 'the v1beta1 API', body: JSON.stringify({ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'x' } }), message: /admission\.k8s\.io\/v1 only/ },
    { name: 'another kind', body: JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'Pod' }), message: /expected "AdmissionReview"/ },
    { name: 'no request', body: JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }), message: /request is missing/ },
    {
      name: 'no uid',
      body: JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { kind: { kind: 'Pod' }, operation: 'CREATE' } }),
      message: /request\.uid is missing/,
    },
    {
      name: 'a Pod without containers',
      body: JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u', kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE', object: { spec: {} } } }),
      message: /spec\.containers is missing/,
    },
  ];
  for (const c of cases) {
    it(`${c.name}: 400 with a message saying what is wrong`, async () => {
      const a = await call(port, tls.caPem, { body: c.body });
      assert.equal(a.status, 400);
      assert.equal(a.json?.error.code, 'BAD_ADMISSION_REVIEW');
      assert.match(a.json?.error.message, /^Not an AdmissionReview v1 request: /);
      assert.match(a.json?.error.message, c.message);
    });
  }

  it('a body over the limit: 413, and the connection is closed', async () => {
    const review = await fixture('deployment-pod');
    review.request.object.metadata.annotations.padding = 'x'.repeat(300 * 1024);
    const a = await call(port, tls.caPem, { body: JSON.stringify(review) });
    assert.equal(a.status, 413);
    assert.equal(a.json?.error.code, 'BODY_TOO_LARGE');
    assert.equal(a.headers.connection, 'close');
  });

  it('not JSON: 415; wrong method: 405; unknown path: 404; health endpoints answer', async () => {
    assert.equal((await call(port, tls.caPem, { body: 'x', contentType: 'text/plain' })).status, 415);
    const get = await call(port, tls.caPem, { method: 'GET' });
    assert.equal(get.status, 405);
    assert.equal(get.headers.allow, 'POST');
    assert.equal((await call(port, tls.caPem, { path: '/validate', body: '{}' })).status, 404);
    assert.equal((await call(port, tls.caPem, { method: 'GET', path: '/healthz' })).status, 200);
    assert.equal((await call(port, tls.caPem, { method: 'GET', path: '/readyz' })).status, 200);
  });

  it('another kind, or another operation on a Pod: allowed untouched', async () => {
    const deployment = await fixture('deployment-review');
    assert.deepEqual(await admit(port, tls.caPem, deployment), { uid: deployment.request.uid, allowed: true });
    const update = await fixture('deployment-pod');
    update.request.operation = 'UPDATE';
    assert.deepEqual(await admit(port, tls.caPem, update), { uid: update.request.uid, allowed: true });
  });
});

describe('injector: strict mode', () => {
  const assertRefused = (res: Record<string, any>, uid: string): void => {
    assert.equal(res.uid, uid);
    assert.equal(res.allowed, false);
    assert.equal(res.patch, undefined);
    assert.equal(res.status.code, 403);
    assert.match(res.status.message, /^sanctum-sidecar injector \(strict mode\): /);
    assert.match(res.status.message, /"Research_Routes!" is not a valid ConfigMap name/);
    assert.match(res.status.message, /"sidecarish" is neither "native" nor "classic"/);
  };

  it('the /mutate/strict path (namespaces labelled sidecar.sanctumai.io/strict=true) refuses unusable annotations', async () => {
    const review = await fixture('malformed-annotations-pod');
    assertRefused(await admit(port, tls.caPem, review, '/mutate/strict?timeout=10s'), review.request.uid);
  });

  it('a namespace in --strict-namespaces refuses them too', async () => {
    const review = await fixture('malformed-annotations-pod');
    review.request.namespace = 'locked-down';
    assertRefused(await admit(port, tls.caPem, review), review.request.uid);
  });

  it('so does the pod annotation sidecar.sanctumai.io/strict: "true"', async () => {
    const review = await fixture('malformed-annotations-pod');
    review.request.object.metadata.annotations['sidecar.sanctumai.io/strict'] = 'true';
    assertRefused(await admit(port, tls.caPem, review), review.request.uid);
  });

  it('strict mode still injects a pod whose annotations are all usable, and ignores pods without the annotation', async () => {
    const good = await fixture('deployment-pod');
    const res = await admit(port, tls.caPem, good, '/mutate/strict');
    assert.equal(res.allowed, true);
    assert.equal(patched(good, res).spec.initContainers[0].name, 'sanctum-sidecar');
    const plain = await fixture('no-annotation-pod');
    assert.deepEqual(await admit(port, tls.caPem, plain, '/mutate/strict'), { uid: plain.request.uid, allowed: true });
  });
});

describe('injector: clusters without native sidecars', () => {
  let old: InjectorServer;
  before(async () => {
    old = await startTestInjector(tls, mergeValues(DEFAULT_SETTINGS, { kubeVersion: 'v1.28.9', values: { sidecar: { mode: 'classic' } } }));
  });
  after(() => old.close());

  it('a Deployment pod gets a classic sidecar that keeps serving through its own drain delay (no preStop sleep before 1.30)', async () => {
    const review = await fixture('deployment-pod');
    const res = await admit(old.address.port, tls.caPem, review);
    const pod = patched(review, res);
    assert.equal(pod.spec.initContainers, undefined);
    const sc = pod.spec.containers.find((c: Record<string, any>) => c.name === 'sanctum-sidecar');
    assert.ok(sc, 'classic: a regular container');
    assert.equal(sc.lifecycle, undefined);
    assert.deepEqual(sc.env.find((e: Record<string, any>) => e.name === 'SANCTUM_SIDECAR_DRAIN_DELAY'), { name: 'SANCTUM_SIDECAR_DRAIN_DELAY', value: '5s' });
  });

  it("a Job's pod is not injected (a classic sidecar would keep it running forever), and the warning says so", async () => {
    const review = await fixture('job-pod');
    const res = await admit(old.address.port, tls.caPem, review);
    assert.equal(res.allowed, true);
    assert.match(res.warnings.join('\n'), /runs to completion \(restartPolicy Never\) and Kubernetes v1\.28\.9 has no native sidecars: a classic sidecar would keep it running forever/);
    assert.equal(patched(review, res).spec.initContainers.length, 1, 'only the Job\'s own init container');
    const strict = await admit(old.address.port, tls.caPem, review, '/mutate/strict');
    assert.equal(strict.allowed, false);
  });
});
