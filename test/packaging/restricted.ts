/**
 * The "restricted" Pod Security Standard (kubernetes.io/docs/concepts/security/pod-security-standards,
 * policy version latest, which includes every "baseline" control), written out rule by rule so a
 * test can evaluate any pod spec without an API server: host namespaces, privileged, capabilities,
 * hostPath and volume types, host ports, AppArmor, SELinux, /proc mount, seccomp, sysctls,
 * privilege escalation, runAsNonRoot and runAsUser. Every container counts: containers,
 * initContainers (native sidecars included) and ephemeralContainers.
 *
 * One exception may be declared by the pod itself: the chart's hostPath opt-in for the vault
 * socket (`vault.socket.allowHostPath`) puts the annotation `EXCEPTION_ANNOTATION` on the pod,
 * naming the volume; the finding is then reported as an exception instead of a violation, so a
 * test can assert that it is the only one and that it says so.
 */

/* eslint-disable @typescript-eslint/no-explicit-any */
type Obj = Record<string, any>;

export const EXCEPTION_ANNOTATION = 'sidecar.sanctumai.io/pod-security-exception';

export interface Finding {
  /** The control, as named in the Pod Security Standards page. */
  readonly control: string;
  /** Where in the pod, e.g. `spec.initContainers[0].securityContext.capabilities.add`. */
  readonly path: string;
  readonly message: string;
}

export interface RestrictedResult {
  readonly violations: Finding[];
  /** Findings the pod declares as a documented opt-in (see EXCEPTION_ANNOTATION). */
  readonly exceptions: Finding[];
}

/** Volume sources the restricted profile allows. */
const ALLOWED_VOLUMES = new Set(['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret']);
/** Sysctls the baseline profile allows (up to Kubernetes 1.32). */
const SAFE_SYSCTLS = new Set([
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range',
  'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.tcp_keepalive_time',
  'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl',
  'net.ipv4.tcp_keepalive_probes',
]);
const SELINUX_TYPES = new Set(['', 'container_t', 'container_init_t', 'container_kvm_t', 'container_engine_t']);
const SECCOMP_OK = new Set(['RuntimeDefault', 'Localhost']);
const APPARMOR_OK = new Set(['RuntimeDefault', 'Localhost']);

/** Evaluates one pod (metadata + spec) against the restricted profile. */
export function checkRestricted(meta: Obj | undefined, spec: Obj): RestrictedResult {
  const found: Finding[] = [];
  const add = (control: string, path: string, message: string): void => {
    found.push({ control, path, message });
  };
  const podSc = (spec.securityContext ?? {}) as Obj;

  // Host namespaces, HostProcess.
  for (const k of ['hostNetwork', 'hostPID', 'hostIPC']) {
    if (spec[k] === true) add('Host Namespaces', `spec.${k}`, `${k} must be unset or false`);
  }
  if (podSc.windowsOptions?.hostProcess === true) add('HostProcess', 'spec.securityContext.windowsOptions.hostProcess', 'HostProcess pods are not allowed');

  // Volumes: hostPath is refused by baseline; restricted allows only a fixed list of sources.
  (spec.volumes ?? []).forEach((vol: Obj, i: number) => {
    const sources = Object.keys(vol).filter((k) => k !== 'name');
    for (const s of sources) {
      if (s === 'hostPath') add('HostPath Volumes', `spec.volumes[${i}](${vol.name}).hostPath`, `volume ${vol.name} is a hostPath`);
      else if (!ALLOWED_VOLUMES.has(s)) add('Volume Types', `spec.volumes[${i}](${vol.name}).${s}`, `volume type ${s} is not allowed`);
    }
  });

  // Pod-level settings.
  if (podSc.runAsUser === 0) add('Running as Non-root user', 'spec.securityContext.runAsUser', 'runAsUser must not be 0');
  if (podSc.runAsNonRoot === false) add('Running as Non-root', 'spec.securityContext.runAsNonRoot', 'runAsNonRoot must not be false');
  if (podSc.seccompProfile !== undefined && !SECCOMP_OK.has(podSc.seccompProfile.type)) {
    add('Seccomp', 'spec.securityContext.seccompProfile.type', `seccomp type ${podSc.seccompProfile.type} is not allowed`);
  }
  if (podSc.appArmorProfile !== undefined && !APPARMOR_OK.has(podSc.appArmorProfile.type)) {
    add('AppArmor', 'spec.securityContext.appArmorProfile.type', `AppArmor type ${podSc.appArmorProfile.type} is not allowed`);
  }
  seLinux(podSc.seLinuxOptions, 'spec.securityContext.seLinuxOptions', add);
  (podSc.sysctls ?? []).forEach((s: Obj, i: number) => {
    if (!SAFE_SYSCTLS.has(s.name)) add('Sysctls', `spec.securityContext.sysctls[${i}]`, `sysctl ${s.name} is not in the safe set`);
  });
  for (const [k, v] of Object.entries((meta?.annotations ?? {}) as Record<string, string>)) {
    if (k.startsWith('container.apparmor.security.beta.kubernetes.io/') && v !== 'runtime/default' && !v.startsWith('localhost/')) {
      add('AppArmor', `metadata.annotations[${k}]`, `AppArmor profile ${v} is not allowed`);
    }
  }

  // Every container, including init containers, native sidecars and ephemeral containers.
  const lists: Array<[string, Obj[]]> = [
    ['containers', spec.containers ?? []],
    ['initContainers', spec.initContainers ?? []],
    ['ephemeralContainers', spec.ephemeralContainers ?? []],
  ];
  for (const [list, containers] of lists) {
    containers.forEach((c, i) => {
      const at = `spec.${list}[${i}](${c.name})`;
      const sc = (c.securityContext ?? {}) as Obj;
      if (sc.privileged === true) add('Privileged Containers', `${at}.securityContext.privileged`, 'privileged must be unset or false');
      if (sc.windowsOptions?.hostProcess === true) add('HostProcess', `${at}.securityContext.windowsOptions.hostProcess`, 'HostProcess containers are not allowed');
      if (sc.allowPrivilegeEscalation !== false) {
        add('Privilege Escalation', `${at}.securityContext.allowPrivilegeEscalation`, 'allowPrivilegeEscalation must be false');
      }
      if (sc.runAsNonRoot === false || (sc.runAsNonRoot !== true && podSc.runAsNonRoot !== true)) {
        add('Running as Non-root', `${at}.securityContext.runAsNonRoot`, 'runAsNonRoot must be true (here or on the pod)');
      }
      if (sc.runAsUser === 0) add('Running as Non-root user', `${at}.securityContext.runAsUser`, 'runAsUser must not be 0');
      const seccomp = sc.seccompProfile?.type;
      if (seccomp !== undefined ? !SECCOMP_OK.has(seccomp) : !SECCOMP_OK.has(podSc.seccompProfile?.type)) {
        add('Seccomp', `${at}.securityContext.seccompProfile.type`, 'seccompProfile must be RuntimeDefault or Localhost (here or on the pod)');
      }
      if (sc.appArmorProfile !== undefined && !APPARMOR_OK.has(sc.appArmorProfile.type)) {
        add('AppArmor', `${at}.securityContext.appArmorProfile.type`, `AppArmor type ${sc.appArmorProfile.type} is not allowed`);
      }
      seLinux(sc.seLinuxOptions, `${at}.securityContext.seLinuxOptions`, add);
      if (sc.procMount !== undefined && sc.procMount !== 'Default') add('/proc Mount Type', `${at}.securityContext.procMount`, 'procMount must be Default');
      const drop = (sc.capabilities?.drop ?? []) as string[];
      if (!drop.includes('ALL')) add('Capabilities', `${at}.securityContext.capabilities.drop`, 'capabilities.drop must include ALL');
      for (const cap of (sc.capabilities?.add ?? []) as string[]) {
        if (cap !== 'NET_BIND_SERVICE') add('Capabilities', `${at}.securityContext.capabilities.add`, `capability ${cap} may not be added`);
      }
      (c.ports ?? []).forEach((p: Obj, j: number) => {
        if (p.hostPort !== undefined && p.hostPort !== 0) add('Host Ports', `${at}.ports[${j}].hostPort`, `hostPort ${p.hostPort} is not allowed`);
      });
    });
  }

  const declared = declaredExceptions(meta);
  const violations: Finding[] = [];
  const exceptions: Finding[] = [];
  for (const f of found) {
    const m = /^spec\.volumes\[\d+\]\(([^)]+)\)\.hostPath$/.exec(f.path);
    if (f.control === 'HostPath Volumes' && m && declared.has(m[1]!)) exceptions.push(f);
    else violations.push(f);
  }
  return { violations, exceptions };
}

function seLinux(opts: Obj | undefined, at: string, add: (control: string, path: string, message: string) => void): void {
  if (opts === undefined) return;
  if (!SELINUX_TYPES.has(opts.type ?? '')) add('SELinux', `${at}.type`, `SELinux type ${opts.type} is not allowed`);
  if ((opts.user ?? '') !== '') add('SELinux', `${at}.user`, 'SELinux user must be unset');
  if ((opts.role ?? '') !== '') add('SELinux', `${at}.role`, 'SELinux role must be unset');
}

/** Volume names the pod declares as hostPath opt-ins in EXCEPTION_ANNOTATION ("hostPath volume NAME: ..."). */
function declaredExceptions(meta: Obj | undefined): Set<string> {
  const text = (meta?.annotations?.[EXCEPTION_ANNOTATION] ?? '') as string;
  return new Set([...text.matchAll(/hostPath volume ([a-z0-9.-]+)/g)].map((m) => m[1]!));
}
