/**
 * `sanctum-sidecar injector`: the mutating admission webhook as a process. Builds the
 * settings (built-in defaults < `--values FILE` < flags), refuses settings the chart would
 * refuse, serves HTTPS until SIGTERM/SIGINT, then drains and exits 0 (a second signal
 * exits at once). SIGHUP re-reads the serving certificate.
 */
import { parseCommand } from '../cli-args.js';
import { parseHostPort } from '../config/overrides.js';
import { parseDuration } from '../config/duration.js';
import { parseByteSize } from '../config/size.js';
import { createLogger } from '../log.js';
import { startInjector } from './server.js';
import { DEFAULT_SETTINGS, checkSettings, loadSettingsFile, mergeValues, type InjectorSettings, type Obj } from './settings.js';

const USAGE = `usage: sanctum-sidecar injector --tls-cert FILE --tls-key FILE [--listen 0.0.0.0:8443]
         [--values FILE] [--image REF] [--image-pull-policy P] [--kube-version 1.30.0]
         [--mode native|classic] [--vault-address H:P] [--vault-agent NAME]
         [--routes-configmap NAME] [--agent-key-secret NAME] [--strict-namespaces a,b]
         [--max-body 3mb] [--drain-delay 0s] [--shutdown-timeout 10s] [--log-level info]

A mutating admission webhook (AdmissionReview v1 over HTTPS) that adds the sanctum-sidecar to
pods annotated sidecar.sanctumai.io/inject: "true". --values takes the chart's values (JSON:
{"image", "imagePullPolicy", "kubeVersion", "values": {sidecar, routes, vault, interception,
agent}}), as the Helm chart's injector mode writes them; flags override it.`;

const OPTIONS = {
  listen: { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  values: { type: 'string' },
  image: { type: 'string' },
  'image-pull-policy': { type: 'string' },
  'kube-version': { type: 'string' },
  mode: { type: 'string' },
  'vault-address': { type: 'string' },
  'vault-agent': { type: 'string' },
  'routes-configmap': { type: 'string' },
  'agent-key-secret': { type: 'string' },
  'strict-namespaces': { type: 'string' },
  'max-body': { type: 'string' },
  'drain-delay': { type: 'string' },
  'shutdown-timeout': { type: 'string' },
  'log-level': { type: 'string' },
} as const;

type Flags = Partial<Record<keyof typeof OPTIONS, string>>;

/** Flags over the settings; each flag is the chart value of the same meaning. */
function applyFlags(s: InjectorSettings, f: Flags): InjectorSettings {
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

export async function runInjector(argv: string[]): Promise<number> {
  const cmd = parseCommand('injector', USAGE, argv, OPTIONS);
  if (typeof cmd === 'number') return cmd;
  const f = cmd.values as Flags;
  if (cmd.positionals.length > 0) return cmd.fail(`unexpected argument ${cmd.positionals[0]}`);
  if (!f['tls-cert'] || !f['tls-key']) return cmd.fail('--tls-cert and --tls-key are required (the API server calls webhooks over HTTPS only)');
  let listen;
  let maxBodyBytes;
  let drainDelayMs;
  let shutdownMs;
  try {
    listen = parseHostPort(f.listen ?? '0.0.0.0:8443', '--listen');
    maxBodyBytes = parseByteSize(f['max-body'] ?? '3mb');
    drainDelayMs = parseDuration(f['drain-delay'] ?? '0s');
    shutdownMs = parseDuration(f['shutdown-timeout'] ?? '10s');
  } catch (err) {
    return cmd.fail((err as Error).message);
  }
  const base = f.values !== undefined ? await loadSettingsFile(f.values) : DEFAULT_SETTINGS;
  const settings = applyFlags(base, f);
  const problems = checkSettings(settings);
  if (problems.length > 0) {
    process.stderr.write(`sanctum-sidecar injector: invalid settings\n${problems.map((p) => `  ${p}`).join('\n')}\n`);
    return 1;
  }
  const strictNamespaces = new Set((f['strict-namespaces'] ?? '').split(',').map((s) => s.trim()).filter(Boolean));
  const log = createLogger({ level: f['log-level'] ?? 'info' });
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
