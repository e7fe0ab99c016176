/**
 * NODE_OPTIONS of an injected sidecar, exactly as the chart computes them (the
 * "sanctum-sidecar.nodeOptions" template): with `sidecar.nodeOptions: auto`, V8's old
 * space gets half of the container's memory limit (scripts/shipped-runtime.mjs says
 * why), nothing without a limit; any other string is used as is.
 * test/packaging/node-flags.test.ts keeps this, the template and the soak's copy equal.
 */
type Obj = Record<string, unknown>;

const UNITS: Readonly<Record<string, number>> = { '': 1, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };

/** A Kubernetes memory quantity ("192Mi", "1Gi", "200M", "268435456") in whole MiB. */
export function quantityMiB(q: unknown): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(String(q).trim());
  if (!m) throw new Error(`cannot read the memory quantity "${String(q)}" (use e.g. 192Mi)`);
  return Math.floor((Number(m[1]) * UNITS[m[2] ?? '']!) / 2 ** 20);
}

/** The NODE_OPTIONS value for a container, or '' for none. */
export function sidecarNodeOptions(nodeOptions: string, resources: Obj): string {
  if (nodeOptions !== 'auto') return nodeOptions;
  const memory = (resources.limits as Obj | undefined)?.memory;
  if (memory === undefined || memory === null || memory === '') return '';
  return `--max-old-space-size=${Math.floor(quantityMiB(memory) / 2)}`;
}
