/**
 * PromQL checks for the chart's alert rules and dashboard: parse an expression with
 * Prometheus's own grammar (@prometheus-io/lezer-promql, the parser of the Prometheus
 * UI), report its syntax errors, and list the metric names it selects. Grafana
 * template variables are replaced by plausible values first, and `label_values()`
 * variable queries are reduced to the selector they query.
 */
import { parser } from '@prometheus-io/lezer-promql';

export interface Parsed {
  /** Positions and the surrounding text of each syntax error (empty: the expression parses). */
  readonly errors: string[];
  /** Metric names in vector and range selectors. */
  readonly metrics: Set<string>;
}

export function parsePromql(expr: string): Parsed {
  const tree = parser.parse(expr);
  const errors: string[] = [];
  const metrics = new Set<string>();
  tree.iterate({
    enter(node) {
      if (node.type.isError) errors.push(`at ${node.from}: …${expr.slice(Math.max(0, node.from - 20), node.to + 20)}…`);
      // A selector's metric name is the Identifier directly under VectorSelector (labels are LabelName).
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector') metrics.add(expr.slice(node.from, node.to));
    },
  });
  return { errors, metrics };
}

/** Grafana's built-in interval variables and the dashboard's own, each with a value PromQL accepts where it stands. */
const GRAFANA_VARIABLES: Record<string, string> = {
  __rate_interval: '5m',
  __interval: '1m',
  __range: '1h',
  namespace: '.*',
  pod: '.*',
  route: '.*',
  agent: '.*',
};

/** Replace `$var` and `${var}` (and `${var:format}`); an unknown variable throws, so a typo cannot slip through as text. */
export function substituteGrafana(expr: string): string {
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (_m, braced: string | undefined, bare: string | undefined) => {
    const name = braced ?? bare!;
    const v = GRAFANA_VARIABLES[name];
    if (v === undefined) throw new Error(`unknown Grafana variable $${name} in: ${expr}`);
    return v;
  });
}

/** `label_values(selector, label)` → `selector`; other variable queries are returned as they are. */
export function variableQuerySelector(query: string): string {
  const m = /^label_values\((.*),\s*\w+\)$/s.exec(query.trim());
  return m === null ? query : m[1]!;
}

/** The metric names a scrape has samples for (histograms appear as their _bucket/_sum/_count series). */
export function scrapedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    names.add(/^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)![0]);
  }
  return names;
}
