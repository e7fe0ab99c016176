/**
 * Policy assertions on rendered manifests: what every workload of the chart must look like,
 * whatever the values (restricted security context, probes, resources, mounts).
 */
import type { Manifest } from './k8s.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
export type Obj = Record<string, any>;

export const SANCTUM_CONTAINER = 'sanctum-sidecar';
export const SANCTUM_VOLUMES = ['sanctum-routes', 'sanctum-key', 'sanctum-vault', 'sanctum-ca', 'sanctum-tmp'];

export interface PodInfo {
  readonly workload: Manifest;
  /** The pod's (template's) metadata. */
  readonly meta: Obj;
  readonly spec: Obj;
  readonly containers: Obj[];
  readonly initContainers: Obj[];
}

/** Every pod a manifest list would create: Pods, and the pod templates of workloads (CronJob: its Job's). */
export function pods(docs: readonly Manifest[]): PodInfo[] {
  return docs
    .filter((d) => ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob', 'Pod'].includes(d.kind))
    .map((d) => {
      const o = d as Obj;
      const template = (d.kind === 'Pod' ? o : d.kind === 'CronJob' ? o.spec.jobTemplate.spec.template : o.spec.template) as Obj;
      const spec = template.spec as Obj;
      return { workload: d, meta: (template.metadata ?? {}) as Obj, spec, containers: spec.containers ?? [], initContainers: spec.initContainers ?? [] };
    });
}

export function byKind(docs: readonly Manifest[], kind: string): Manifest[] {
  return docs.filter((d) => d.kind === kind);
}

export function one(docs: readonly Manifest[], kind: string, name?: string): Obj {
  const found = docs.filter((d) => d.kind === kind && (name === undefined || d.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  return found[0] as Obj;
}

export function envOf(container: Obj): Map<string, Obj> {
  return new Map((container.env ?? []).map((e: Obj) => [e.name as string, e]));
}

export function envValue(container: Obj, name: string): string | undefined {
  return envOf(container).get(name)?.value;
}

/**
 * Every violation of the chart's pod policy, as readable strings. A native sidecar is an
 * init container with restartPolicy Always; plain init containers would need no probes.
 */
export function podPolicyViolations(pod: PodInfo): string[] {
  const v: string[] = [];
  const where = `${pod.workload.kind}/${pod.workload.metadata.name}`;
  const podSc = (pod.spec.securityContext ?? {}) as Obj;
  if (pod.spec.automountServiceAccountToken !== false) v.push(`${where}: automountServiceAccountToken must be false`);
  for (const k of ['hostNetwork', 'hostPID', 'hostIPC']) if (pod.spec[k]) v.push(`${where}: ${k} is set`);
  if (podSc.runAsNonRoot !== true) v.push(`${where}: pod securityContext.runAsNonRoot must be true`);
  if (podSc.seccompProfile?.type !== 'RuntimeDefault') v.push(`${where}: pod seccompProfile must be RuntimeDefault`);

  const volumes = new Map<string, Obj>((pod.spec.volumes ?? []).map((vol: Obj) => [vol.name as string, vol]));
  const all = [...pod.initContainers.map((c) => ({ c, init: true })), ...pod.containers.map((c) => ({ c, init: false }))];
  for (const { c, init } of all) {
    const at = `${where} ${init ? 'initContainer' : 'container'} ${c.name}`;
    const sc = (c.securityContext ?? {}) as Obj;
    const runAsNonRoot = sc.runAsNonRoot ?? podSc.runAsNonRoot;
    if (runAsNonRoot !== true) v.push(`${at}: runAsNonRoot must be true`);
    if (sc.runAsUser === 0) v.push(`${at}: runs as uid 0`);
    if (sc.readOnlyRootFilesystem !== true) v.push(`${at}: readOnlyRootFilesystem must be true`);
    if (sc.allowPrivilegeEscalation !== false) v.push(`${at}: allowPrivilegeEscalation must be false`);
    if (sc.privileged === true) v.push(`${at}: privileged`);
    if (!(sc.capabilities?.drop ?? []).includes('ALL')) v.push(`${at}: capabilities.drop must include ALL`);
    if ((sc.capabilities?.add ?? []).length > 0) v.push(`${at}: adds capabilities ${sc.capabilities.add}`);
    const seccomp = sc.seccompProfile?.type ?? podSc.seccompProfile?.type;
    if (seccomp !== 'RuntimeDefault') v.push(`${at}: seccompProfile must be RuntimeDefault`);

    const req = c.resources?.requests ?? {};
    if (req.cpu === undefined || req.memory === undefined) v.push(`${at}: resources.requests.cpu and .memory must be set`);
    if (c.resources?.limits?.memory === undefined) v.push(`${at}: resources.limits.memory must be set`);

    const nativeSidecar = init && c.restartPolicy === 'Always';
    const longRunning = !init || nativeSidecar;
    if (longRunning) {
      if (c.name === SANCTUM_CONTAINER) {
        for (const p of ['startupProbe', 'livenessProbe', 'readinessProbe']) if (!c[p]) v.push(`${at}: ${p} missing`);
        if (c.livenessProbe?.httpGet?.path !== '/healthz') v.push(`${at}: livenessProbe must GET /healthz`);
        if (c.readinessProbe?.httpGet?.path !== '/readyz') v.push(`${at}: readinessProbe must GET /readyz`);
        if (c.startupProbe?.httpGet?.path !== '/readyz') v.push(`${at}: startupProbe must GET /readyz`);
      } else if (!c.livenessProbe && !c.readinessProbe && !c.startupProbe) {
        v.push(`${at}: has no probe`);
      }
    }

    for (const m of (c.volumeMounts ?? []) as Obj[]) {
      const vol = volumes.get(m.name);
      if (!vol) v.push(`${at}: mounts undefined volume ${m.name}`);
      if (m.subPath !== undefined || m.subPathExpr !== undefined) {
        // subPath mounts never see ConfigMap/Secret updates: routes.yaml must hot-reload.
        if (vol?.configMap || vol?.secret || vol?.projected) v.push(`${at}: ${m.name} is mounted with subPath`);
      }
      if ((vol?.configMap || vol?.secret) && m.readOnly !== true) v.push(`${at}: ${m.name} must be mounted readOnly`);
      if (c.name !== SANCTUM_CONTAINER && ['sanctum-key', 'sanctum-ca', 'sanctum-vault', 'sanctum-routes'].includes(m.name)) {
        v.push(`${at}: the agent must not mount ${m.name}`);
      }
    }
  }

  for (const [name, vol] of volumes) {
    if (vol.hostPath && name !== 'sanctum-vault') v.push(`${where}: volume ${name} is a hostPath`);
  }
  const key = volumes.get('sanctum-key');
  if (key && key.secret?.defaultMode !== 0o400 && key.secret?.defaultMode !== 0o600) {
    v.push(`${where}: key Secret defaultMode is ${key.secret?.defaultMode}, want 256 (0400) or 384 (0600)`);
  }
  const ca = volumes.get('sanctum-ca');
  if (ca && ca.secret?.defaultMode !== 0o400) v.push(`${where}: CA Secret (holds the CA key) defaultMode must be 256 (0400)`);
  const caPublic = volumes.get('sanctum-ca-public');
  if (caPublic && (caPublic.secret?.items ?? []).some((i: Obj) => /key/i.test(i.key))) {
    v.push(`${where}: the agent's CA volume projects a key`);
  }
  return v;
}
