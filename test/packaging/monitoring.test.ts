/**
 * The chart's monitoring pack: the PrometheusRule and the Grafana dashboard ConfigMap
 * are off by default and rendered by ci/observability-values.yaml; every alert
 * expression and every dashboard query parses with Prometheus's grammar, and every
 * metric name they use has samples in a live /metrics scrape of a running sidecar with
 * every family switched on (gateway agents, interception, inject and delegate routes,
 * rate limits, process metrics) after one request per route.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, request } from 'undici';
import { CHART, helm, render, RELEASE, templateArgs } from './helm.js';
import { one, type Obj } from './policy.js';
import type { Manifest } from './k8s.js';
import { parsePromql, scrapedNames, substituteGrafana, variableQuerySelector } from './promql.js';
import { startFullSurface, type FullSurface } from '../helpers/full-surface.js';
import { viaProxy } from '../helpers/gateway.js';

/**
 * Metrics the rules or the dashboard use that belong to work not merged yet (empty: every
 * one is exported). A name listed here that the scrape does have fails the test, so the
 * list cannot go stale.
 */
const NOT_YET_MERGED = new Set<string>();

const OBS = join(CHART, 'ci', 'observability-values.yaml');
const FULLNAME = `${RELEASE}-sanctum-sidecar`;
const ALERTS = [
  'SanctumSidecarVaultNotReady',
  'SanctumSidecarVaultErrors',
  'SanctumSidecarUpstream5xx',
  'SanctumSidecarTripwire',
  'SanctumSidecarResponseGuard',
  'SanctumSidecarReloadFailed',
  'SanctumSidecarRateLimited',
  'SanctumSidecarCaExpiring',
];

let docs: Manifest[];
let defaults: Manifest[];
let surface: FullSurface;
let scraped: Set<string>;

before(async () => {
  [docs, defaults, surface] = await Promise.all([render({ values: [OBS] }), render(), startFullSurface({ defaultMetrics: true })]);
  // One request on each route, so the per-request families (requests, durations, vault latency) have samples.
  const client = new Client(surface.gw.proxyUrl);
  try {
    const auth = `Basic ${Buffer.from(`alpha:${surface.token}`).toString('base64')}`;
    for (const url of ['http://api.openai.com/v1/models', 'http://api.stripe.com/v1/charges']) {
      const r = await viaProxy(client, url, { auth });
      assert.equal(r.status, 200, `${url}: ${r.text}`);
    }
  } finally {
    await client.close();
  }
  scraped = scrapedNames(await (await request(`${surface.gw.adminUrl}/metrics`)).body.text());
});
after(() => surface?.close());

function rules(): Obj[] {
  const pr = one(docs, 'PrometheusRule', FULLNAME);
  return (pr.spec.groups as Obj[]).flatMap((g) => g.rules as Obj[]);
}

function dashboardJson(): Obj {
  return JSON.parse(readFileSync(join(CHART, 'dashboards', 'sanctum-sidecar.json'), 'utf8')) as Obj;
}

/** Every PromQL expression of the dashboard: panel targets and variable queries, Grafana variables substituted. */
function dashboardExprs(): Array<{ where: string; expr: string }> {
  const d = dashboardJson();
  const out: Array<{ where: string; expr: string }> = [];
  for (const p of d.panels as Obj[]) {
    for (const t of (p.targets ?? []) as Obj[]) out.push({ where: `panel "${p.title}" ${t.refId}`, expr: substituteGrafana(t.expr as string) });
  }
  for (const v of d.templating.list as Obj[]) {
    if (v.type !== 'query') continue;
    out.push({ where: `variable $${v.name}`, expr: substituteGrafana(variableQuerySelector(v.query.query as string)) });
  }
  return out;
}

/** Problems with one expression: syntax errors and metric names the live scrape does not have. */
function problems(where: string, expr: string): string[] {
  const p = parsePromql(expr);
  const out = p.errors.map((e) => `${where}: PromQL syntax error ${e}`);
  if (p.metrics.size === 0) out.push(`${where}: selects no metric`);
  for (const m of p.metrics) {
    if (NOT_YET_MERGED.has(m)) continue;
    if (!scraped.has(m)) out.push(`${where}: ${m} is not in a live /metrics scrape`);
  }
  return out;
}

describe('monitoring pack: chart objects', () => {
  it('is off by default', () => {
    assert.equal(defaults.filter((d) => d.kind === 'PrometheusRule').length, 0);
    assert.equal(defaults.filter((d) => d.metadata.name === `${FULLNAME}-dashboard`).length, 0);
  });

  it('renders every alert once, with a severity, the extra alert labels and a summary and description', () => {
    const rs = rules();
    assert.deepEqual(rs.map((r) => r.alert), ALERTS);
    for (const r of rs) {
      assert.match(r.labels.severity, /^(warning|critical)$/, r.alert);
      assert.equal(r.labels.team, 'platform', `${r.alert}: alertLabels`);
      assert.ok(r.annotations.summary && r.annotations.description, `${r.alert}: annotations`);
      assert.ok(!/\{\{\s*"/.test(r.annotations.description), `${r.alert}: Helm escapes leaked into the description`);
    }
    assert.match(rs.find((r) => r.alert === 'SanctumSidecarTripwire')!.annotations.description, /\{\{ \$labels\.agent \}\}/);
    assert.equal(one(docs, 'PrometheusRule', FULLNAME).metadata.labels.release, 'kube-prometheus-stack');
  });

  it('thresholds and disabled alerts follow the values', async () => {
    const changed = await render({
      values: [OBS],
      set: ['metrics.prometheusRule.thresholds.upstream5xxRatio=0.25', 'metrics.prometheusRule.thresholds.caExpiryDays=14', 'metrics.prometheusRule.disabled={SanctumSidecarRateLimited}'],
    });
    const rs = (one(changed, 'PrometheusRule', FULLNAME).spec.groups as Obj[]).flatMap((g) => g.rules as Obj[]);
    assert.ok(!rs.some((r) => r.alert === 'SanctumSidecarRateLimited'));
    assert.match(rs.find((r) => r.alert === 'SanctumSidecarUpstream5xx')!.expr, />\s*0\.25$/);
    assert.match(rs.find((r) => r.alert === 'SanctumSidecarCaExpiring')!.expr, /< 14 \* 86400$/);
  });

  it('refuses an out-of-range threshold and an unknown alert name', async () => {
    for (const [set, error] of [
      ['metrics.prometheusRule.thresholds.vaultErrorRatio=1.5', /vaultErrorRatio/],
      ['metrics.prometheusRule.disabled={SanctumSidecarNoSuchAlert}', /disabled/],
    ] as const) {
      const res = await helm(templateArgs({ values: [OBS], set: [set] }));
      assert.notEqual(res.status, 0, `helm template accepted ${set}`);
      assert.match(res.stderr, error);
    }
  });

  it('ships the dashboard JSON in a ConfigMap that Grafana\'s sidecar picks up', () => {
    const cm = one(docs, 'ConfigMap', `${FULLNAME}-dashboard`);
    assert.equal(cm.metadata.labels.grafana_dashboard, '1');
    assert.equal(cm.metadata.annotations.grafana_folder, 'Egress');
    assert.deepEqual(JSON.parse(cm.data['sanctum-sidecar.json'] as string), dashboardJson());
  });

  it('the dashboard covers traffic, latency percentiles, vault, cache hit ratio, tripwires, guard hits and agents', () => {
    const exprs = dashboardExprs().map((e) => e.expr);
    const has = (re: RegExp, what: string): void => assert.ok(exprs.some((e) => re.test(e)), `no panel for ${what}`);
    has(/rate\(sanctum_sidecar_requests_total/, 'traffic');
    for (const q of ['0.5', '0.9', '0.99']) has(new RegExp(`histogram_quantile\\(${q.replace('.', '\\.')}, sum by \\(le\\) \\(rate\\(sanctum_sidecar_request_duration_seconds_bucket`), `p${q}`);
    has(/histogram_quantile\(0\.99, sum by \(le, operation\) \(rate\(sanctum_sidecar_vault_request_duration_seconds_bucket/, 'vault latency');
    has(/sanctum_sidecar_vault_requests_total\{[^}]*result!="ok"/, 'vault errors');
    has(/credential_cache_events_total\{[^}]*event="hit"[^}]*\}.*\/ sum by \(route\)/, 'cache hit ratio');
    has(/sanctum_sidecar_tripwires_total/, 'tripwires');
    has(/sanctum_sidecar_response_guard_total/, 'guard hits');
    has(/sum by \(agent\) \(rate\(sanctum_sidecar_requests_total/, 'requests per agent');
    const d = dashboardJson();
    const ids = (d.panels as Obj[]).map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
    for (const p of (d.panels as Obj[]).filter((x) => x.type !== 'row')) assert.equal(p.datasource.uid, '${datasource}', `${p.title}: datasource variable`);
  });
});

describe('monitoring pack: every expression parses and uses metrics the sidecar exports', () => {
  it('the checker itself catches a syntax error and an unknown metric name (it can fail)', () => {
    assert.ok(parsePromql('sum(rate(sanctum_sidecar_requests_total[5m])').errors.length > 0);
    assert.ok(parsePromql('sanctum_sidecar_requests_total{route="a"} >').errors.length > 0);
    assert.deepEqual(problems('typo', 'rate(sanctum_sidecar_requets_total[5m])'), ['typo: sanctum_sidecar_requets_total is not in a live /metrics scrape']);
    assert.deepEqual([...parsePromql('a_total / on (x) group_left b{c="d"} - time()').metrics].sort(), ['a_total', 'b']);
    assert.throws(() => substituteGrafana('rate(x[$__rate_intervall])'), /unknown Grafana variable/);
  });

  it('every alert expression', () => {
    const found = rules().flatMap((r) => problems(r.alert as string, r.expr as string));
    assert.deepEqual(found, []);
  });

  it('every dashboard panel query and variable query', () => {
    const list = dashboardExprs();
    assert.ok(list.length >= 40, `only ${list.length} expressions found`);
    assert.deepEqual(list.flatMap((e) => problems(e.where, e.expr)), []);
  });

  it('the not-yet-merged allow-list holds only names the sidecar does not export yet', () => {
    for (const m of NOT_YET_MERGED) assert.ok(!scraped.has(m), `${m} is exported now: remove it from NOT_YET_MERGED in ${import.meta.url}`);
  });
});
