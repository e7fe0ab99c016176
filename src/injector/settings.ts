/**
 * The injector's settings: the container image, the cluster's Kubernetes version and a
 * subset of the Helm chart's values (same keys, same meaning), from which the sidecar of
 * an injected pod is derived exactly as the chart's `sanctum-sidecar.container` template
 * derives it. The chart's injector mode writes these values into a ConfigMap
 * (`--values FILE`), so one values file drives both; without it the built-in defaults
 * below, which equal the chart's values.yaml (a packaging test compares them), apply.
 * Flags override the file; `checkSettings` refuses what the chart's render-time checks
 * refuse.
 */
import { readFile } from 'node:fs/promises';
import { posix } from 'node:path';

/* eslint-disable @typescript-eslint/no-explicit-any */
export type Obj = Record<string, any>;

export interface ProbeValues {
  readonly enabled: boolean;
  readonly periodSeconds: number;
  readonly timeoutSeconds: number;
  readonly failureThreshold: number;
}

/** The chart values the sidecar container, its volumes and the agent environment are derived from. */
export interface SidecarValues {
  readonly sidecar: {
    readonly name: string;
    readonly mode: 'native' | 'classic';
    readonly listen: { readonly address: string; readonly port: number };
    /** `detail` is rendered into routes.yaml (admin_detail), not the container: kept for parity with values.yaml. */
    readonly admin: { readonly address: string; readonly port: number; readonly detail: boolean };
    readonly logLevel: string;
    readonly shutdownTimeoutSeconds: number;
    readonly preStopSleepSeconds: number;
    readonly extraArgs: readonly string[];
    readonly extraEnv: readonly Obj[];
    readonly extraEnvFrom: readonly Obj[];
    readonly extraVolumes: readonly Obj[];
    readonly extraVolumeMounts: readonly Obj[];
    readonly resources: Obj;
    /** NODE_OPTIONS: "auto" (from resources.limits.memory), '' for none, or used as is. */
    readonly nodeOptions: string;
    readonly securityContext: Obj;
    readonly startupProbe: ProbeValues;
    readonly livenessProbe: ProbeValues;
    readonly readinessProbe: ProbeValues;
    readonly tmpSizeLimit: string | number;
  };
  readonly routes: { readonly existingConfigMap: string; readonly fileName: string; readonly mountPath: string };
  readonly vault: {
    /** "" = the routes ConfigMap's vault.agent decides. */
    readonly agent: string;
    readonly transport: 'tcp' | 'socket';
    readonly socket: { readonly path: string; readonly volume: Obj; readonly allowHostPath: boolean };
    readonly tcp: { readonly address: string };
    readonly key: { readonly existingSecret: string; readonly fileName: string; readonly mountPath: string; readonly defaultMode: number };
    readonly passphrase: { readonly existingSecret: string; readonly secretKey: string; readonly envName: string };
  };
  readonly interception: {
    readonly enabled: boolean;
    readonly caSecret: string;
    readonly certFileName: string;
    readonly mountPath: string;
    readonly agentMountPath: string;
    /** The file in caSecret with the public roots plus the CA; '' gives certFileName to every variable. */
    readonly bundleFileName: string;
    /** Variables that ADD the CA to a client's roots: certFileName. */
    readonly agentCaEnv: readonly string[];
    /** Variables that REPLACE a client's trust store: bundleFileName, so public hosts still verify. */
    readonly agentCaBundleEnv: readonly string[];
  };
  readonly agent: { readonly proxyEnv: boolean; readonly noProxy: readonly string[] };
}

export interface InjectorSettings {
  /** The sidecar image, repository[:tag][@digest]. */
  readonly image: string;
  readonly imagePullPolicy: string;
  /** The cluster's version: native sidecars need 1.29, the preStop sleep action 1.30. */
  readonly kubeVersion: string;
  readonly values: SidecarValues;
}

const RESTRICTED_CONTEXT = {
  runAsNonRoot: true,
  runAsUser: 65532,
  runAsGroup: 65532,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  privileged: false,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

/** The chart's values.yaml defaults for these keys, with the injector's per-pod defaults for names. */
export const DEFAULT_SETTINGS: InjectorSettings = {
  image: 'ghcr.io/sanctumai/sanctum-sidecar:0.1.0',
  imagePullPolicy: 'IfNotPresent',
  kubeVersion: '1.30.0',
  values: {
    sidecar: {
      name: 'sanctum-sidecar',
      mode: 'native',
      listen: { address: '127.0.0.1', port: 8080 },
      admin: { address: '0.0.0.0', port: 9090, detail: false },
      logLevel: 'info',
      shutdownTimeoutSeconds: 20,
      preStopSleepSeconds: 5,
      extraArgs: [],
      extraEnv: [],
      extraEnvFrom: [],
      extraVolumes: [],
      extraVolumeMounts: [],
      resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '192Mi' } },
      nodeOptions: 'auto',
      securityContext: RESTRICTED_CONTEXT,
      startupProbe: { enabled: true, periodSeconds: 1, timeoutSeconds: 2, failureThreshold: 60 },
      livenessProbe: { enabled: true, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 },
      readinessProbe: { enabled: true, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2 },
      tmpSizeLimit: '64Mi',
    },
    routes: { existingConfigMap: 'sanctum-sidecar-routes', fileName: 'routes.yaml', mountPath: '/etc/sanctum-sidecar' },
    vault: {
      agent: '',
      transport: 'tcp',
      socket: { path: '/var/run/sanctum/vault.sock', volume: {}, allowHostPath: false },
      tcp: { address: 'sanctum-vault.sanctum.svc.cluster.local:7600' },
      key: { existingSecret: 'sanctum-sidecar-agent-key', fileName: 'agent.key', mountPath: '/var/run/secrets/sanctum-sidecar/keys', defaultMode: 256 },
      passphrase: { existingSecret: '', secretKey: 'passphrase', envName: 'SANCTUM_SIDECAR_KEY_PASSPHRASE' },
    },
    interception: {
      enabled: false,
      caSecret: '',
      certFileName: 'ca.crt',
      mountPath: '/etc/sanctum-sidecar/ca',
      agentMountPath: '/etc/sanctum-sidecar-ca',
      bundleFileName: 'ca-bundle.crt',
      agentCaEnv: ['NODE_EXTRA_CA_CERTS'],
      agentCaBundleEnv: ['REQUESTS_CA_BUNDLE', 'SSL_CERT_FILE', 'CURL_CA_BUNDLE', 'GIT_SSL_CAINFO', 'AWS_CA_BUNDLE'],
    },
    agent: { proxyEnv: true, noProxy: [] },
  },
};

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Helm's merge: maps merge key by key, everything else (lists included) replaces. */
export function mergeValues<T>(base: T, over: unknown): T {
  if (!isObj(base) || !isObj(over)) return (over === undefined ? base : over) as T;
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = k in out ? mergeValues(out[k], v) : v;
  return out as T;
}

/** Reads a settings file (JSON, the shape of InjectorSettings, any part of it) over the defaults. */
export async function loadSettingsFile(file: string, base: InjectorSettings = DEFAULT_SETTINGS): Promise<InjectorSettings> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new Error(`--values ${file}: ${(err as Error).message}`);
  }
  if (!isObj(parsed)) throw new Error(`--values ${file}: expected a JSON object with image, kubeVersion and values`);
  const unknown = Object.keys(parsed).filter((k) => !['image', 'imagePullPolicy', 'kubeVersion', 'values'].includes(k));
  if (unknown.length > 0) throw new Error(`--values ${file}: unknown keys ${unknown.join(', ')}`);
  return mergeValues(base, parsed);
}

/** `v1.29.3-gke.1` → [1, 29]; undefined when it is not a version. */
export function minorVersion(v: string): [number, number] | undefined {
  const m = /^v?(\d+)\.(\d+)/.exec(v);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

export function atLeast(version: string, major: number, minor: number): boolean {
  const v = minorVersion(version);
  return v !== undefined && (v[0] > major || (v[0] === major && v[1] >= minor));
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** A Kubernetes object name (DNS-1123 subdomain), as ConfigMap and Secret names are. */
export const OBJECT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** host:port or [v6]:port. */
export const HOST_PORT = /^(?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

/** The problems the chart's schema and render-time checks would report for these settings. */
export function checkSettings(s: InjectorSettings): string[] {
  const out: string[] = [];
  const v = s.values;
  if (typeof s.image !== 'string' || s.image === '') out.push('image: the sidecar image is required');
  if (minorVersion(s.kubeVersion) === undefined) out.push(`kubeVersion: "${s.kubeVersion}" is not a Kubernetes version such as 1.30.2`);
  if (!DNS_LABEL.test(v.sidecar.name)) out.push(`sidecar.name: "${v.sidecar.name}" is not a container name`);
  if (!['native', 'classic'].includes(v.sidecar.mode)) out.push('sidecar.mode must be native or classic');
  if (v.sidecar.mode === 'native' && !atLeast(s.kubeVersion, 1, 29)) {
    out.push(`sidecar.mode=native needs Kubernetes >= 1.29 (native sidecar containers); kubeVersion is ${s.kubeVersion}: set sidecar.mode=classic`);
  }
  if (!['127.0.0.1', '::1', 'localhost'].includes(v.sidecar.listen.address)) {
    out.push(`sidecar.listen.address=${v.sidecar.listen.address}: an injected sidecar must listen on loopback so only its own pod can use it (SECURITY I12)`);
  }
  if (v.sidecar.listen.port === v.sidecar.admin.port) out.push('sidecar.listen.port and sidecar.admin.port must differ');
  if (!OBJECT_NAME.test(v.routes.existingConfigMap)) out.push('routes.existingConfigMap: the default routes ConfigMap name is required');
  if (!OBJECT_NAME.test(v.vault.key.existingSecret)) out.push('vault.key.existingSecret: the default agent key Secret name is required');
  if (![256, 384].includes(v.vault.key.defaultMode)) out.push('vault.key.defaultMode must be 256 (0400) or 384 (0600)');
  if (v.vault.transport === 'tcp' && !HOST_PORT.test(v.vault.tcp.address)) out.push(`vault.tcp.address "${v.vault.tcp.address}" is not host:port`);
  if (v.vault.transport === 'socket') {
    if (!posix.isAbsolute(v.vault.socket.path)) out.push('vault.socket.path must be absolute');
    if (Object.keys(v.vault.socket.volume).length !== 1) out.push('vault.transport=socket needs vault.socket.volume: one volume source that holds the socket');
    if ('hostPath' in v.vault.socket.volume && !v.vault.socket.allowHostPath) {
      out.push('vault.socket.volume is a hostPath, which the baseline and restricted Pod Security Standards refuse; set vault.socket.allowHostPath=true to allow it');
    }
  }
  if (v.interception.enabled && !OBJECT_NAME.test(v.interception.caSecret)) out.push('interception.enabled needs interception.caSecret');
  const sc = v.sidecar.securityContext;
  if (sc.runAsNonRoot !== true || sc.allowPrivilegeEscalation !== false || !(sc.capabilities?.drop ?? []).includes('ALL')) {
    out.push('sidecar.securityContext must keep runAsNonRoot true, allowPrivilegeEscalation false and capabilities.drop [ALL]');
  }
  for (const m of v.sidecar.extraVolumeMounts) {
    if (!v.sidecar.extraVolumes.some((x) => x.name === m.name)) out.push(`sidecar.extraVolumeMounts: no volume "${m.name}"; define it in sidecar.extraVolumes`);
  }
  return out;
}
