/**
 * `sanctum-sidecar env`: print the environment an agent container needs (proxy
 * variables, NO_PROXY, base URLs, placeholder keys, CA variables) as `export` lines.
 * The lines themselves are built by agent-env.ts; this file parses flags and reads
 * the config.
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfigFile } from '../config/load.js';
import { applyOverrides } from '../config/overrides.js';
import { AgentEnvError } from '../agent-env.js';
import { CA_BUNDLE_FILE } from '../tls/ca.js';
import { renderEnv } from './agent-env.js';
import { CONFIG_FLAG, OVERRIDE_FLAGS } from './common-flags.js';
import { parseCommand, type CommandIo, type CommandSpec } from './flags.js';

export type EnvIo = CommandIo;

export const ENV_SPEC = {
  name: 'env',
  synopsis: '[--config routes.yaml] [--proxy-url URL] [--ca-path DIR] [--agent NAME [--token-env VAR]] [flags]',
  summary: 'print the environment an agent container needs, as export lines',
  description: [
    'Print, as `export` lines, what an agent needs to use the sidecar: HTTP_PROXY/http_proxy and\n' +
      'HTTPS_PROXY/https_proxy, NO_PROXY, a base URL per prefix route, a placeholder key per\n' +
      'credential route, NODE_USE_ENV_PROXY (Node\'s own fetch), and the CA variables when TLS\n' +
      'interception is configured. In gateway mode, --agent prints that agent\'s proxy URL carrying\n' +
      'its name and a reference to the token variable (never the token itself).',
  ],
  positionals: { min: 0, max: 0 },
  flags: {
    config: CONFIG_FLAG,
    'proxy-url': { type: 'string', arg: 'URL', defaultText: 'http:// + the listen address', help: 'the sidecar as the agent reaches it (http://HOST:PORT)' },
    'ca-path': { type: 'string', arg: 'DIR', defaultText: 'tls.ca_dir', help: 'where the agent finds ca.crt and ca-bundle.crt' },
    agent: { type: 'string', arg: 'NAME', help: 'gateway mode: the agent whose proxy URL, base URLs and placeholders to print' },
    'token-env': { type: 'string', arg: 'VAR', defaultText: 'SANCTUM_SIDECAR_PROXY_TOKEN', help: 'gateway mode: the variable the agent\'s token is in (referenced, never printed)' },
    listen: OVERRIDE_FLAGS.listen,
    'ca-dir': OVERRIDE_FLAGS['ca-dir'],
  },
} as const satisfies CommandSpec;

export async function runEnvCommand(args: string[], env: NodeJS.ProcessEnv = process.env, io: EnvIo = {}): Promise<number> {
  const p = parseCommand(ENV_SPEC, args, env, io);
  if (typeof p === 'number') return p;
  const proxyUrl = p.values['proxy-url'];
  if (proxyUrl !== undefined && !/^http:\/\/[^/?#@\s]+\/?$/.test(proxyUrl)) return p.fail('--proxy-url must be http://HOST:PORT');
  const config = applyOverrides(await loadConfigFile(p.setting('config') ?? 'routes.yaml', env), p.values, env);
  const caDir = config.tls.caDir;
  const bundleExists =
    caDir === undefined
      ? undefined
      : await access(join(caDir, CA_BUNDLE_FILE)).then(
          () => true,
          () => false,
        );
  let lines: string[];
  try {
    lines = renderEnv(config, {
      ...(proxyUrl === undefined ? {} : { proxyUrl: proxyUrl.replace(/\/$/, '') }),
      ...(p.values['ca-path'] === undefined ? {} : { caPath: p.values['ca-path'] }),
      ...(bundleExists === undefined ? {} : { bundleExists }),
      ...(p.values.agent === undefined ? {} : { agent: p.values.agent }),
      ...(p.values['token-env'] === undefined ? {} : { tokenEnv: p.values['token-env'] }),
    });
  } catch (err) {
    if (!(err instanceof AgentEnvError)) throw err;
    return p.fail(err.message);
  }
  p.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
