/**
 * The pod annotations the injector reads (all under `sidecar.sanctumai.io/`), parsed into
 * per-pod overrides of the injector's settings. A value the injector cannot use is never an
 * error here: it becomes a warning naming the annotation, and the default applies (the
 * caller turns warnings into a denial only in strict mode). Pure.
 */
import { HOST_PORT, OBJECT_NAME } from './settings.js';

export const PREFIX = 'sidecar.sanctumai.io/';

export const ANNOTATION = {
  /** "true" asks for the sidecar; "false" (or no annotation) leaves the pod alone. */
  inject: `${PREFIX}inject`,
  /** Written by the injector: "injected". A pod that carries it is never mutated again. */
  status: `${PREFIX}status`,
  routesConfigMap: `${PREFIX}routes-configmap`,
  agentKeySecret: `${PREFIX}agent-key-secret`,
  /** host:port of the vault; also switches a socket-configured injector to TCP for this pod. */
  vaultAddress: `${PREFIX}vault-address`,
  vaultAgent: `${PREFIX}vault-agent`,
  mode: `${PREFIX}mode`,
  /** "true": refuse the pod rather than inject with defaults when anything is unusable. */
  strict: `${PREFIX}strict`,
  /** Written by the injector: what it could not use, for `kubectl describe pod`. */
  warnings: `${PREFIX}injector-warnings`,
  /** Written by the chart and the injector for the hostPath opt-in (see the chart). */
  podSecurityException: `${PREFIX}pod-security-exception`,
} as const;

const KNOWN = new Set<string>(Object.values(ANNOTATION));
const AGENT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export interface PodOverrides {
  routesConfigMap?: string;
  agentKeySecret?: string;
  vaultAddress?: string;
  vaultAgent?: string;
  mode?: 'native' | 'classic';
}

export interface PodRequest {
  /** absent: no inject annotation; invalid: neither "true" nor "false". */
  readonly inject: 'true' | 'false' | 'absent' | 'invalid';
  readonly injected: boolean;
  readonly strict: boolean;
  readonly overrides: PodOverrides;
  readonly warnings: string[];
}

function show(v: string): string {
  return JSON.stringify(v.length > 64 ? `${v.slice(0, 64)}…` : v);
}

/** Reads the pod's annotations; `warnings` lists every annotation whose value is ignored and why. */
export function readAnnotations(annotations: Readonly<Record<string, unknown>> | undefined): PodRequest {
  const a = annotations ?? {};
  const warnings: string[] = [];
  const str = (key: string): string | undefined => {
    const v = a[key];
    return typeof v === 'string' ? v.trim() : undefined;
  };

  const injectRaw = str(ANNOTATION.inject);
  let inject: PodRequest['inject'] = 'absent';
  if (injectRaw !== undefined) {
    const lower = injectRaw.toLowerCase();
    if (lower === 'true' || lower === 'false') inject = lower;
    else {
      inject = 'invalid';
      warnings.push(`${ANNOTATION.inject}: ${show(injectRaw)} is neither "true" nor "false"; the sidecar was not injected`);
    }
  }

  const overrides: PodOverrides = {};
  const name = (key: string, what: string, pattern: RegExp, set: (v: string) => void): void => {
    const v = str(key);
    if (v === undefined) return;
    if (pattern.test(v) && v.length <= 253) set(v);
    else warnings.push(`${key}: ${show(v)} is not a valid ${what}; the default is used`);
  };
  name(ANNOTATION.routesConfigMap, 'ConfigMap name', OBJECT_NAME, (v) => (overrides.routesConfigMap = v));
  name(ANNOTATION.agentKeySecret, 'Secret name', OBJECT_NAME, (v) => (overrides.agentKeySecret = v));
  name(ANNOTATION.vaultAgent, 'vault agent name (letters, digits, "_", "." and "-")', AGENT_NAME, (v) => (overrides.vaultAgent = v));
  const addr = str(ANNOTATION.vaultAddress);
  if (addr !== undefined) {
    const m = HOST_PORT.exec(addr);
    const port = m ? Number(m[1]) : 0;
    if (m && port >= 1 && port <= 65535) overrides.vaultAddress = addr;
    else warnings.push(`${ANNOTATION.vaultAddress}: ${show(addr)} is not host:port; the default vault address is used`);
  }
  const mode = str(ANNOTATION.mode);
  if (mode !== undefined) {
    if (mode === 'native' || mode === 'classic') overrides.mode = mode;
    else warnings.push(`${ANNOTATION.mode}: ${show(mode)} is neither "native" nor "classic"; the default mode is used`);
  }
  const strictRaw = str(ANNOTATION.strict);
  if (strictRaw !== undefined && !['true', 'false'].includes(strictRaw.toLowerCase())) {
    warnings.push(`${ANNOTATION.strict}: ${show(strictRaw)} is neither "true" nor "false"; strict mode stays off`);
  }
  for (const key of Object.keys(a)) {
    if (key.startsWith(PREFIX) && !KNOWN.has(key)) warnings.push(`${key}: unknown annotation, ignored`);
  }
  return {
    inject,
    injected: str(ANNOTATION.status) === 'injected',
    strict: strictRaw?.toLowerCase() === 'true',
    overrides,
    warnings,
  };
}
