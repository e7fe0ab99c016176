/**
 * `sanctum-sidecar injector`: the mutating admission webhook as a process. Builds the
 * settings (built-in defaults < `--values FILE` < flags), refuses settings the chart would
 * refuse, serves HTTPS until SIGTERM/SIGINT, then drains and exits 0 (a second signal
 * exits at once). SIGHUP re-reads the serving certificate.
 */
import { parseCommand, type CommandIo, type CommandSpec } from './flags.js';
import { parseHostPort } from '../config/overrides.js';
import { parseDuration } from '../config/duration.js';
import { parseByteSize } from '../config/size.js';
import { createLogger } from '../log.js';
import type { InjectorSettings, Obj } from '../injector/settings.js';

export const INJECTOR_SPEC = {
  name: 'injector',
  synopsis: '--tls-cert FILE --tls-key FILE [--values FILE] [flags]',
  summary: 'Kubernetes mutating admission webhook that adds the sidecar to annotated pods',
  description: [
    'A mutating admission webhook (AdmissionReview v1 over HTTPS) that adds the sanctum-sidecar to\n' +
      'pods annotated sidecar.sanctumai.io/inject: "true". --values takes the chart\'s values (JSON:\n' +
      '{"image", "imagePullPolicy", "kubeVersion", "values": {sidecar, routes, vault, interception,\n' +
      'agent}}), as the Helm chart\'s injector mode writes them; flags override it. SIGHUP re-reads\n' +
      'the certificate; SIGTERM drains.',
  ],
  positionals: { min: 0, max: 0 },
  flags: {
    'tls-cert': { type: 'string', arg: 'FILE', help: 'serving certificate (PEM); required: the API server calls webhooks over HTTPS only' },
    'tls-key': { type: 'string', arg: 'FILE', help: 'its private key (PEM); required' },
    listen: { type: 'string', arg: 'HOST:PORT', default: '0.0.0.0:8443', help: 'where to serve' },
    values: { type: 'string', arg: 'FILE', help: "the chart's injector settings (JSON)" },
    image: { type: 'string', arg: 'REF', help: 'the sidecar image to inject' },
    'image-pull-policy': { type: 'string', arg: 'POLICY', help: 'its imagePullPolicy' },
    'kube-version': { type: 'string', arg: 'X.Y.Z', defaultText: '1.30.0 (the chart passes its cluster version)', help: 'decides native sidecar and preStop sleep' },
    mode: { type: 'string', arg: 'native|classic', help: 'how the sidecar is added' },
    'vault-address': { type: 'string', arg: 'HOST:PORT', help: 'the vault over TCP' },
    'vault-agent': { type: 'string', arg: 'NAME', help: 'the vault identity of injected sidecars' },
    'routes-configmap': { type: 'string', arg: 'NAME', help: 'ConfigMap holding routes.yaml' },
    'agent-key-secret': { type: 'string', arg: 'NAME', help: 'Secret holding the agent key' },
    'strict-namespaces': { type: 'string', arg: 'A,B', help: 'namespaces where an unusable annotation refuses the pod' },
    'max-body': { type: 'string', arg: 'SIZE', default: '3mb', help: 'largest AdmissionReview accepted' },
    'drain-delay': { type: 'string', arg: 'DURATION', default: '0s', help: 'after SIGTERM, keep answering this long with /readyz 503' },
    'shutdown-timeout': { type: 'string', arg: 'DURATION', default: '10s', help: 'then wait at most this long for reviews in flight' },
    'log-level': { type: 'string', arg: 'LEVEL', default: 'info', help: 'pino log level' },
  },
} as const satisfies CommandSpec;

type Opts = typeof INJECTOR_SPEC.flags;

type Flags = Partial<Record<keyof Opts, string>>;

/** Flags over the settings; each flag is the chart value of the same meaning. */
function applyFlags(s: InjectorSettings, f: Flags, mergeValues: <T>(base: T, over: unknown) => T): InjectorSettings {
  const values: Obj = {};
  const vault: Obj = {};
  if (f.mode !== undefined) values.sidecar = { mode: f.mode };
  if (f['routes-configmap'] !== undefined) values.routes = { existingConfigMap: f['routes-configmap'] };
  if (f['agent-key-secret'] !== undefined) vault.key = { existingSecret: f['agent-key-secret'] };
  if (f['vault-agent'] !== undefined) vault.agent = f['vault-agent'];
  if (f['vault-address'] !== undefined) Object.assign(vault, { transport: 'tcp', tcp: { address: f['vault-address'] } });
  if (Object.keys(vault).length > 0) values.vault = vault;
  return mergeValues(s, {
    ...(f.image !== undefined ? { image: f.image } : {}),
    ...(f['image-pull-policy'] !== undefined ? { imagePullPolicy: f['image-pull-policy'] } : {}),
    ...(f['kube-version'] !== undefined ? { kubeVersion: f['kube-version'] } : {}),
    values,
  });
}

export async function runInjector(argv: readonly string[], env: NodeJS.ProcessEnv = process.env, io: CommandIo = {}): Promise<number> {
  const cmd = parseCommand(INJECTOR_SPEC, argv, env, io);
  if (typeof cmd === 'number') return cmd;
  const f = cmd.values as Flags;
  if (!f['tls-cert'] || !f['tls-key']) return cmd.fail('--tls-cert and --tls-key are required (the API server calls webhooks over HTTPS only)');
  let listen;
  let maxBodyBytes;
  let drainDelayMs;
  let shutdownMs;
  try {
    listen = parseHostPort(cmd.setting('listen')!, '--listen');
    maxBodyBytes = parseByteSize(cmd.setting('max-body')!);
    drainDelayMs = parseDuration(cmd.setting('drain-delay')!);
    shutdownMs = parseDuration(cmd.setting('shutdown-timeout')!);
  } catch (err) {
    return cmd.fail((err as Error).message);
  }
  // Imported here, not at the top: a running sidecar loads this dispatcher but never the injector.
  const { DEFAULT_SETTINGS, checkSettings, loadSettingsFile, mergeValues } = await import('../injector/settings.js');
  const { startInjector } = await import('../injector/server.js');
  const base = f.values !== undefined ? await loadSettingsFile(f.values) : DEFAULT_SETTINGS;
  const settings = applyFlags(base, f, mergeValues);
  const problems = checkSettings(settings);
  if (problems.length > 0) {
    process.stderr.write(`sanctum-sidecar injector: invalid settings\n${problems.map((p) => `  ${p}`).join('\n')}\n`);
    return 1;
  }
  const strictNamespaces = new Set((f['strict-namespaces'] ?? '').split(',').map((s) => s.trim()).filter(Boolean));
  const log = createLogger({ level: cmd.setting('log-level')! });
  const injector = await startInjector({
    host: listen.host,
    port: listen.port,
    certFile: f['tls-cert'],
    keyFile: f['tls-key'],
    settings,
    strictNamespaces,
    maxBodyBytes,
    log,
  });
  log.info(
    { listen: `${injector.address.host}:${injector.address.port}`, image: settings.image, kube_version: settings.kubeVersion, mode: settings.values.sidecar.mode, strict_namespaces: [...strictNamespaces] },
    'sanctum-sidecar injector listening',
  );
  const reload = (): void => void injector.reloadCertificate();
  process.on('SIGHUP', reload);
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        process.stderr.write(`sanctum-sidecar injector: ${signal} again, exiting immediately\n`);
        process.exit(1);
      }
      stopping = true;
      process.off('SIGHUP', reload);
      log.info({ signal, drain_delay_ms: drainDelayMs }, 'injector shutting down');
      void injector.close({ delayMs: drainDelayMs, deadlineMs: shutdownMs }).then(() => {
        log.info('injector stopped');
        log.flush();
        resolve(0);
      });
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}
