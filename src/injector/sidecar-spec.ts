/**
 * What an injected pod gains, derived from the chart's values exactly as the chart's named
 * templates derive it (helm/sanctum-sidecar/templates/_sidecar.tpl: `sanctum-sidecar.container`,
 * `.volumes`, `.agentEnv`, `.agentVolumeMounts`, role "sidecar"), so an injected pod and a pod
 * that includes the templates run the same sidecar. Field for field, in the templates' order;
 * a packaging test renders the templates with helm for the same values and compares.
 * Pure: no I/O.
 */
import { sidecarNodeOptions } from './node-options.js';
import { posix } from 'node:path';
import { atLeast, type InjectorSettings, type Obj, type ProbeValues } from './settings.js';

export interface SidecarSpec {
  /** The sanctum-sidecar container. */
  readonly container: Obj;
  /** Volumes the pod needs (the sidecar's, and the agent's CA certificate with interception). */
  readonly volumes: Obj[];
  /** Environment for the agent containers: proxy variables and, with interception, CA files. */
  readonly agentEnv: Obj[];
  /** Mounts for the agent containers (the CA certificate with interception). */
  readonly agentVolumeMounts: Obj[];
}

/** host:port, with brackets for IPv6 (the chart's `sanctum-sidecar.hostPort`). */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function probe(path: string, p: ProbeValues): Obj {
  return {
    httpGet: { path, port: 'admin', scheme: 'HTTP' },
    periodSeconds: Math.trunc(p.periodSeconds),
    timeoutSeconds: Math.trunc(p.timeoutSeconds),
    failureThreshold: Math.trunc(p.failureThreshold),
    successThreshold: 1,
  };
}

/** The sidecar for one pod: `native` puts it in initContainers with restartPolicy Always. */
export function sidecarSpec(s: InjectorSettings, native: boolean): SidecarSpec {
  const v = s.values;
  const sc = v.sidecar;
  // Classic containers get SIGTERM while the pod may still be sent work: keep serving for
  // preStopSleepSeconds, by a preStop sleep (Kubernetes >= 1.30) or the sidecar's own drain delay.
  const stopDelay = native ? 0 : Math.trunc(sc.preStopSleepSeconds);
  const preStopSleep = stopDelay > 0 && atLeast(s.kubeVersion, 1, 30);

  const env: Obj[] = [
    { name: 'SANCTUM_SIDECAR_LISTEN', value: hostPort(sc.listen.address, sc.listen.port) },
    { name: 'SANCTUM_SIDECAR_ADMIN', value: hostPort(sc.admin.address, sc.admin.port) },
    { name: 'SANCTUM_SIDECAR_LOG_LEVEL', value: sc.logLevel },
    { name: 'SANCTUM_SIDECAR_SHUTDOWN_TIMEOUT', value: `${Math.trunc(sc.shutdownTimeoutSeconds)}s` },
  ];
  if (stopDelay > 0 && !preStopSleep) env.push({ name: 'SANCTUM_SIDECAR_DRAIN_DELAY', value: `${stopDelay}s` });
  if (v.vault.agent) env.push({ name: 'SANCTUM_SIDECAR_VAULT_AGENT', value: v.vault.agent });
  if (v.vault.transport === 'socket') env.push({ name: 'SANCTUM_SIDECAR_VAULT_SOCKET', value: v.vault.socket.path });
  else env.push({ name: 'SANCTUM_SIDECAR_VAULT_TCP', value: v.vault.tcp.address });
  env.push({ name: 'SANCTUM_SIDECAR_KEY_FILE', value: `${v.vault.key.mountPath}/${v.vault.key.fileName}` });
  if (v.vault.passphrase.existingSecret) {
    env.push({ name: v.vault.passphrase.envName, valueFrom: { secretKeyRef: { name: v.vault.passphrase.existingSecret, key: v.vault.passphrase.secretKey } } });
  }
  if (v.interception.enabled) env.push({ name: 'SANCTUM_SIDECAR_CA_DIR', value: v.interception.mountPath });
  const nodeOptions = sidecarNodeOptions(sc.nodeOptions, sc.resources);
  if (nodeOptions !== '') env.push({ name: 'NODE_OPTIONS', value: nodeOptions });
  env.push(...sc.extraEnv);

  const mounts: Obj[] = [
    { name: 'sanctum-routes', mountPath: v.routes.mountPath, readOnly: true },
    { name: 'sanctum-key', mountPath: v.vault.key.mountPath, readOnly: true },
  ];
  if (v.vault.transport === 'socket') mounts.push({ name: 'sanctum-vault', mountPath: posix.dirname(v.vault.socket.path), readOnly: true });
  if (v.interception.enabled) mounts.push({ name: 'sanctum-ca', mountPath: v.interception.mountPath, readOnly: true });
  mounts.push({ name: 'sanctum-tmp', mountPath: '/tmp' }, ...sc.extraVolumeMounts);

  const container: Obj = {
    name: sc.name,
    image: s.image,
    imagePullPolicy: s.imagePullPolicy,
    ...(native ? { restartPolicy: 'Always' } : {}),
    args: ['run', '--config', `${v.routes.mountPath}/${v.routes.fileName}`, ...sc.extraArgs],
    env,
    ...(sc.extraEnvFrom.length > 0 ? { envFrom: [...sc.extraEnvFrom] } : {}),
    ports: [
      { name: 'proxy', containerPort: Math.trunc(sc.listen.port), protocol: 'TCP' },
      { name: 'admin', containerPort: Math.trunc(sc.admin.port), protocol: 'TCP' },
    ],
    ...(sc.startupProbe.enabled ? { startupProbe: probe('/readyz', sc.startupProbe) } : {}),
    ...(sc.livenessProbe.enabled ? { livenessProbe: probe('/healthz', sc.livenessProbe) } : {}),
    ...(sc.readinessProbe.enabled ? { readinessProbe: probe('/readyz', sc.readinessProbe) } : {}),
    ...(preStopSleep ? { lifecycle: { preStop: { sleep: { seconds: stopDelay } } } } : {}),
    resources: sc.resources,
    securityContext: sc.securityContext,
    volumeMounts: mounts,
  };

  const volumes: Obj[] = [
    { name: 'sanctum-routes', configMap: { name: v.routes.existingConfigMap, items: [{ key: v.routes.fileName, path: v.routes.fileName }] } },
    // 0400: with the pod's fsGroup the kubelet adds group read, so only the sidecar's group reads the key.
    { name: 'sanctum-key', secret: { secretName: v.vault.key.existingSecret, defaultMode: Math.trunc(v.vault.key.defaultMode) } },
  ];
  if (v.vault.transport === 'socket') volumes.push({ name: 'sanctum-vault', ...v.vault.socket.volume });
  if (v.interception.enabled) {
    volumes.push({ name: 'sanctum-ca', secret: { secretName: v.interception.caSecret, defaultMode: Math.trunc(v.vault.key.defaultMode) } });
  }
  volumes.push({ name: 'sanctum-tmp', emptyDir: { medium: 'Memory', sizeLimit: sc.tmpSizeLimit } }, ...sc.extraVolumes);
  if (v.interception.enabled) {
    // The agent trusts the interception CA: it gets the certificate, never the key.
    const f = v.interception.certFileName;
    const b = v.interception.bundleFileName;
    const items = [{ key: f, path: f }, ...(b !== '' && b !== f ? [{ key: b, path: b }] : [])];
    volumes.push({ name: 'sanctum-ca-public', secret: { secretName: v.interception.caSecret, defaultMode: 0o444, items } });
  }

  const agentEnv: Obj[] = [];
  if (v.agent.proxyEnv) {
    const host = sc.listen.address === 'localhost' ? '127.0.0.1' : sc.listen.address;
    const proxy = `http://${hostPort(host, sc.listen.port)}`;
    const noProxy = ['localhost', '127.0.0.1', '::1', ...v.agent.noProxy].join(',');
    for (const name of ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy']) agentEnv.push({ name, value: proxy });
    // Node 24's own fetch and http honour the proxy variables only with this (as `sanctum-sidecar env` prints).
    agentEnv.push({ name: 'NODE_USE_ENV_PROXY', value: '1' });
    for (const name of ['NO_PROXY', 'no_proxy']) agentEnv.push({ name, value: noProxy });
  }
  const agentVolumeMounts: Obj[] = [];
  if (v.interception.enabled) {
    const caFile = `${v.interception.agentMountPath}/${v.interception.certFileName}`;
    const bundle = `${v.interception.agentMountPath}/${v.interception.bundleFileName || v.interception.certFileName}`;
    for (const name of v.interception.agentCaEnv) agentEnv.push({ name, value: caFile });
    for (const name of v.interception.agentCaBundleEnv) agentEnv.push({ name, value: bundle });
    agentVolumeMounts.push({ name: 'sanctum-ca-public', mountPath: v.interception.agentMountPath, readOnly: true });
  }
  return { container, volumes, agentEnv, agentVolumeMounts };
}
