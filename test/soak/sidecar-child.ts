/**
 * The sidecar under soak, in its own process so that RSS, heap and handle counts are
 * the sidecar's alone. Started by soak.ts with the path of a routes.yaml and a log
 * file; answers `stats` messages over IPC and closes on `stop`.
 */
import { pino } from 'pino';
import { startSidecar } from '../../src/app.js';
import { loadConfigFile } from '../../src/config/load.js';

export interface ChildStats {
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  readonly handles: Record<string, number>;
  readonly connections: number;
}

const [configPath, logPath] = process.argv.slice(2);
if (configPath === undefined || logPath === undefined || process.send === undefined) {
  console.error('usage: sidecar-child.ts <routes.yaml> <log file> (forked with IPC by soak.ts)');
  process.exit(2);
}

const config = await loadConfigFile(configPath, {});
const log = pino({ level: 'info', messageKey: 'msg' }, pino.destination({ dest: logPath, sync: false }));
const sidecar = await startSidecar({ config, configPath, log, env: {}, defaultMetrics: true });
await sidecar.vault.whenReady(10_000);

function counts(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1;
  return out;
}

process.on('message', (m: { type: string; id?: number }) => {
  if (m.type === 'stats') {
    sidecar.server.getConnections((_err, connections) => {
      const mem = process.memoryUsage();
      const stats: ChildStats = { rss: mem.rss, heapUsed: mem.heapUsed, heapTotal: mem.heapTotal, external: mem.external, handles: counts(), connections };
      process.send!({ type: 'stats', id: m.id, stats });
    });
  } else if (m.type === 'gc') {
    (globalThis as { gc?: () => void }).gc?.();
    process.send!({ type: 'gc', id: m.id });
  } else if (m.type === 'stop') {
    void sidecar.close(5000).then(() => {
      log.flush();
      process.send!({ type: 'stopped' });
      setTimeout(() => process.exit(0), 100);
    });
  }
});

process.send({ type: 'ready', proxyPort: sidecar.proxy.port, adminPort: sidecar.admin?.port ?? 0 });
