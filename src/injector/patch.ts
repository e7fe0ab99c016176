/**
 * The mutation of one pod: from the pod and the injector's settings to an RFC 6902 JSON
 * Patch, or to no patch with the reason. Only pods annotated `sidecar.sanctumai.io/inject:
 * "true"` are touched; a pod marked `sidecar.sanctumai.io/status: injected` never twice.
 * The sidecar itself comes from `sidecarSpec` (the chart's named templates, ported), with
 * the pod's annotations as per-value overrides. Problems (an annotation it cannot use, a
 * pod it cannot inject) are warnings, and refusals only in strict mode. Pure.
 */
import { ANNOTATION, readAnnotations, type PodOverrides } from './annotations.js';
import { atLeast, mergeValues, type InjectorSettings, type Obj } from './settings.js';
import { sidecarSpec } from './sidecar-spec.js';

export interface JsonPatchOp {
  readonly op: 'add';
  readonly path: string;
  readonly value: unknown;
}

export interface Mutation {
  /** injected: `patch` adds the sidecar; skipped: allowed as is (maybe annotated); refused: strict mode said no. */
  readonly outcome: 'injected' | 'skipped' | 'refused';
  readonly patch: JsonPatchOp[];
  /** For the AdmissionReview response and the log: problems first, then notices. */
  readonly warnings: string[];
  /** One line: why nothing was injected, or what was. */
  readonly reason: string;
}

/** JSON Pointer escaping of one reference token (RFC 6901 §3). */
export function pointerToken(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** The settings with a pod's annotation overrides applied. */
export function withOverrides(s: InjectorSettings, o: PodOverrides): InjectorSettings {
  const values: Obj = {};
  if (o.routesConfigMap !== undefined) values.routes = { existingConfigMap: o.routesConfigMap };
  const vault: Obj = {};
  if (o.agentKeySecret !== undefined) vault.key = { existingSecret: o.agentKeySecret };
  if (o.vaultAgent !== undefined) vault.agent = o.vaultAgent;
  if (o.vaultAddress !== undefined) Object.assign(vault, { transport: 'tcp', tcp: { address: o.vaultAddress } });
  if (Object.keys(vault).length > 0) values.vault = vault;
  if (o.mode !== undefined) values.sidecar = { mode: o.mode };
  return { ...s, values: mergeValues(s.values, values) };
}

function skip(reason: string, warnings: string[] = [], patch: JsonPatchOp[] = []): Mutation {
  return { outcome: 'skipped', patch, warnings, reason };
}

/** Ops that set annotations (only pods that carry the inject annotation are patched, so the map exists). */
function annotationOps(set: Record<string, string>): JsonPatchOp[] {
  return Object.entries(set).map(([k, v]) => ({ op: 'add', path: `/metadata/annotations/${pointerToken(k)}`, value: v }));
}

/** Appends items to an array member, creating it when absent. */
function appendOps(parent: Obj, member: string, path: string, items: readonly Obj[]): JsonPatchOp[] {
  if (items.length === 0) return [];
  if (!Array.isArray(parent[member])) return [{ op: 'add', path: `${path}/${member}`, value: [...items] }];
  return items.map((value) => ({ op: 'add', path: `${path}/${member}/-`, value }));
}

/** Decides and builds the mutation of `pod` (request.object of a Pod CREATE). */
export function mutatePod(pod: Obj, settings: InjectorSettings, opts: { strict: boolean }): Mutation {
  const req = readAnnotations(pod.metadata?.annotations);
  if (req.inject === 'absent') return skip('not annotated for injection');
  if (req.inject === 'false') return skip(`${ANNOTATION.inject} is "false"`);
  if (req.injected) return skip('already injected');
  const strict = opts.strict || req.strict;
  const spec = pod.spec as Obj;
  const problems = [...req.warnings];
  const notices: string[] = [];
  const decline = (reason: string): Mutation => {
    if (strict) return { outcome: 'refused', patch: [], warnings: problems, reason };
    // The pod asked for the sidecar: say on the pod itself why it has none.
    return skip(reason, problems, annotationOps({ [ANNOTATION.warnings]: problems.join('; ') }));
  };
  if (req.inject === 'invalid') return decline('the inject annotation is not "true"');

  let mode = req.overrides.mode ?? settings.values.sidecar.mode;
  const nativeAvailable = atLeast(settings.kubeVersion, 1, 29);
  const runsToCompletion = spec.restartPolicy === 'Never' || spec.restartPolicy === 'OnFailure';
  if (mode === 'native' && !nativeAvailable) {
    problems.push(`${ANNOTATION.mode}: native sidecars need Kubernetes 1.29 (this cluster: ${settings.kubeVersion}); a classic sidecar is injected`);
    mode = 'classic';
  }
  if (runsToCompletion && mode === 'classic') {
    if (!nativeAvailable) {
      problems.push(
        `this pod runs to completion (restartPolicy ${spec.restartPolicy}) and Kubernetes ${settings.kubeVersion} has no native sidecars: a classic sidecar would keep it running forever, so none was injected (use the gateway mode for Jobs here)`,
      );
      return decline('a run-to-completion pod needs a native sidecar');
    }
    problems.push(`${ANNOTATION.mode}: "classic" would keep this run-to-completion pod (restartPolicy ${spec.restartPolicy}) running forever; a native sidecar is injected`);
    mode = 'native';
  }
  const effective = withOverrides(settings, { ...req.overrides, mode });
  const side = sidecarSpec(effective, mode === 'native');

  // The pod must have room for the sidecar: no clash of container names, volume names or ports.
  const containers = (spec.containers ?? []) as Obj[];
  const all = [...containers, ...((spec.initContainers ?? []) as Obj[])];
  const blockers: string[] = [];
  if (all.some((c) => c.name === side.container.name)) blockers.push(`the pod already has a container named ${side.container.name}; the sidecar was not injected`);
  const taken = new Set(((spec.volumes ?? []) as Obj[]).map((v) => v.name));
  const clash = side.volumes.filter((v) => taken.has(v.name)).map((v) => v.name);
  if (clash.length > 0) blockers.push(`the pod already has volumes named ${clash.join(', ')}; the sidecar was not injected`);
  const ports = new Set((side.container.ports as Obj[]).map((p) => p.containerPort));
  for (const c of all) {
    for (const p of (c.ports ?? []) as Obj[]) {
      if (ports.has(p.containerPort) && (p.protocol ?? 'TCP') === 'TCP') {
        blockers.push(`container ${c.name} declares port ${p.containerPort}, which the sidecar listens on; the sidecar was not injected (change sidecar.listen.port or sidecar.admin.port)`);
      }
    }
  }
  if (blockers.length > 0) {
    problems.push(...blockers);
    return decline('the pod has no room for the sidecar');
  }
  if (strict && problems.length > 0) return { outcome: 'refused', patch: [], warnings: problems, reason: 'strict mode: unusable annotations' };

  const patch: JsonPatchOp[] = [];
  // Agent containers: the proxy (and CA) environment first, so a value the container sets itself wins.
  const envNames = new Set(side.agentEnv.map((e) => e.name as string));
  containers.forEach((c, i) => {
    const own = ((c.env ?? []) as Obj[]).map((e) => e.name as string).filter((n) => envNames.has(n));
    if (own.length > 0) notices.push(`container ${c.name} sets ${own.join(', ')} itself; its own values win over the injected ones`);
    if (!Array.isArray(c.env)) {
      if (side.agentEnv.length > 0) patch.push({ op: 'add', path: `/spec/containers/${i}/env`, value: side.agentEnv });
    } else {
      side.agentEnv.forEach((value, k) => patch.push({ op: 'add', path: `/spec/containers/${i}/env/${k}`, value }));
    }
    patch.push(...appendOps(c, 'volumeMounts', `/spec/containers/${i}`, side.agentVolumeMounts));
  });
  if (mode === 'native') {
    // First, so later init containers can already use the proxy.
    if (Array.isArray(spec.initContainers) && spec.initContainers.length > 0) patch.push({ op: 'add', path: '/spec/initContainers/0', value: side.container });
    else patch.push({ op: 'add', path: '/spec/initContainers', value: [side.container] });
  } else {
    patch.push({ op: 'add', path: '/spec/containers/-', value: side.container });
  }
  patch.push(...appendOps(spec, 'volumes', '/spec', side.volumes));
  // The key Secret is 0400; the kubelet makes it readable to the pod's fsGroup, so the pod needs one.
  if (spec.securityContext?.fsGroup === undefined) {
    const group = (effective.values.sidecar.securityContext.runAsGroup as number | undefined) ?? 65532;
    const value = { fsGroup: group, ...(spec.securityContext?.fsGroupChangePolicy === undefined ? { fsGroupChangePolicy: 'OnRootMismatch' } : {}) };
    if (spec.securityContext === undefined) patch.push({ op: 'add', path: '/spec/securityContext', value });
    else for (const [k, v] of Object.entries(value)) patch.push({ op: 'add', path: `/spec/securityContext/${k}`, value: v });
    notices.push(`the pod had no securityContext.fsGroup; ${group} was set so the sidecar can read its key Secret`);
  }
  const marks: Record<string, string> = { [ANNOTATION.status]: 'injected' };
  if (problems.length > 0) marks[ANNOTATION.warnings] = problems.join('; ');
  if (side.volumes.some((v) => v.name === 'sanctum-vault' && v.hostPath !== undefined)) {
    marks[ANNOTATION.podSecurityException] =
      'hostPath volume sanctum-vault: vault.socket.allowHostPath=true; the baseline and restricted Pod Security Standards refuse hostPath volumes';
  }
  patch.unshift(...annotationOps(marks));
  return { outcome: 'injected', patch, warnings: [...problems, ...notices], reason: `${mode} sidecar injected` };
}
