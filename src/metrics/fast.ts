/**
 * Hot-path metric types for the per-request series. prom-client hashes the label object
 * on every `inc`/`observe` (sort, concatenate, look up), which the profile showed at
 * about 6% of the sidecar's CPU per request. These keep one child per label tuple,
 * found by walking nested Maps keyed by the label values (no allocation after the first
 * request of a tuple), and hand prom-client the familiar `get()` shape at scrape time.
 * Only metrics.ts constructs them; they register on the same Registry.
 */
import type { Registry } from 'prom-client';

type Tree<T> = Map<string, Tree<T> | T>;

/**
 * Walk (creating on miss) the nested-Map path of `values` to its leaf child. `make` is
 * a function built once per metric, not a closure per call: this runs on every request.
 */
function leaf<T>(root: Tree<T>, values: readonly string[], make: (values: readonly string[]) => T): T {
  let node: Tree<T> = root;
  const last = values.length - 1;
  for (let i = 0; i < last; i++) {
    let next = node.get(values[i]!) as Tree<T> | undefined;
    if (next === undefined) {
      next = new Map();
      node.set(values[i]!, next);
    }
    node = next;
  }
  let child = node.get(values[last]!) as T | undefined;
  if (child === undefined) {
    child = make(values);
    node.set(values[last]!, child);
  }
  return child;
}

function labelsOf(names: readonly string[], values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  names.forEach((n, i) => (out[n] = values[i]!));
  return out;
}

export interface CounterChild {
  value: number;
  readonly labels: Record<string, string>;
}

export class FastCounter {
  readonly type = 'counter';
  readonly aggregator = 'sum';
  readonly #root: Tree<CounterChild> = new Map();
  readonly #children: CounterChild[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }

  /** Add `n` (default 1) to the series with these label values (in `labelNames` order). */
  inc(values: readonly string[], n = 1): void {
    leaf(this.#root, values, this.#make).value += n;
  }

  readonly #make = (values: readonly string[]): CounterChild => {
    const c = { value: 0, labels: labelsOf(this.labelNames, values) };
    this.#children.push(c);
    return c;
  };

  /**
   * Create the series with these label values at 0 if it does not exist yet (a no-op
   * otherwise), so it renders from the first scrape and `increase()` sees its first event.
   */
  declare(values: readonly string[]): void {
    this.inc(values, 0);
  }

  /** The current value of a series (tests, readiness). */
  valueOf(values: readonly string[]): number {
    let node: unknown = this.#root;
    for (const v of values) node = (node as Map<string, unknown> | undefined)?.get(v);
    return (node as CounterChild | undefined)?.value ?? 0;
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: Array<{ labels: Record<string, string>; value: number }> } {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: this.#children.map((c) => ({ labels: c.labels, value: c.value })),
    };
  }

  reset(): void {
    this.#root.clear();
    this.#children.length = 0;
  }
}

interface HistogramChild {
  readonly labels: Record<string, string>;
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

export class FastHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #root: Tree<HistogramChild> = new Map();
  readonly #children: HistogramChild[] = [];
  readonly #bounds: readonly number[];

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    buckets: readonly number[],
    registry: Registry,
  ) {
    this.#bounds = [...buckets].sort((a, b) => a - b);
    registry.registerMetric(this as never);
  }

  readonly #make = (values: readonly string[]): HistogramChild => {
    const child = { labels: labelsOf(this.labelNames, values), counts: new Float64Array(this.#bounds.length), sum: 0, count: 0 };
    this.#children.push(child);
    return child;
  };

  observe(values: readonly string[], v: number): void {
    const c = leaf(this.#root, values, this.#make);
    const b = this.#bounds;
    for (let i = 0; i < b.length; i++) {
      if (v <= b[i]!) {
        c.counts[i]! += 1;
        break;
      }
    }
    c.sum += v;
    c.count += 1;
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> } {
    const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
    for (const c of this.#children) {
      let acc = 0;
      this.#bounds.forEach((bound, i) => {
        acc += c.counts[i]!;
        values.push({ labels: { ...c.labels, le: bound }, value: acc, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { ...c.labels, le: '+Inf' }, value: c.count, metricName: `${this.name}_bucket` });
      values.push({ labels: c.labels, value: c.sum, metricName: `${this.name}_sum` });
      values.push({ labels: c.labels, value: c.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.#root.clear();
    this.#children.length = 0;
  }
}
