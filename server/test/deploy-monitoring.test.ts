import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parser } from '@prometheus-io/lezer-promql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { api, data } from './support/admin-http';
import { startTestApp, type TestApp } from './support/app';
import { startTestRedis, waitFor, type TestRedis } from './support/redis';

const root = fileURLToPath(new URL('../..', import.meta.url));
const prometheusDir = join(root, 'deploy', 'prometheus');
const run = promisify(execFile);

/** Series Prometheus makes itself, not lockscope's /metrics. */
const FROM_PROMETHEUS = new Set(['up']);
/**
 * Announced for the multi-target work and already alerted on (LockscopeRedisUnreachable, LockscopeBlind), but not
 * exported yet: the rules that use them stay silent until they are. Nothing else may be missing.
 */
const ANNOUNCED = new Set<string>();

describe('Prometheus alert rules (promtool)', () => {
  it('pass promtool check rules', async () => {
    const { stdout } = await promtool(['check', 'rules', 'lockscope-alerts.yml']);
    expect(stdout).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('pass their unit tests (promtool test rules)', async () => {
    const { stdout } = await promtool(['test', 'rules', 'lockscope-alerts.test.yml']);
    expect(stdout).toContain('SUCCESS');
  });
});

describe('alert rules and the Grafana dashboard query only metrics lockscope exports (live /metrics)', () => {
  const TOKEN = 'monitoring-test-token-0123456789';
  let redis: TestRedis;
  let app: TestApp;
  let exported: Set<string>;
  let series: Sample[];

  beforeAll(async () => {
    redis = await startTestRedis();
    await redis.client.set('lock:mon:stuck', 'crashed-worker');
    await redis.client.set('lock:mon:held', 'a'.repeat(32), 'PX', 60_000);
    await redis.client.set('lock:mon:released', 'owner-r', 'PX', 60_000);
    await redis.client.set('lock:mon:forced', 'owner-f', 'PX', 60_000);
    app = await startTestApp(redis.url, { ADMIN_TOKEN: TOKEN });
    const client = await app.connect();
    await waitFor(() => client.byKey('lock:mon:forced'), 'the seeded locks');
    // Every counter family gets a sample: a renewal, a release, an expiry, a force-release, and a loss.
    await redis.client.pexpire('lock:mon:held', 90_000);
    await redis.client.del('lock:mon:released');
    await redis.client.set('lock:mon:expiring', 'owner-e', 'PX', 300);
    data(await api(app.url, '/api/locks/release', { token: TOKEN, json: { key: 'lock:mon:forced', expectedOwner: 'owner-f', reason: 'metrics test' } }));
    await waitFor(() => client.byKey('lock:mon:expiring')?.state === 'expired' && client.byKey('lock:mon:held')?.renewals === 1, 'expiry and renewal');
    const port = redis.port;
    await redis.stop();
    redis = await startTestRedis({ port });
    await waitFor(async () => /^lockscope_locks_lost_total\{/m.test(await metricsText()), 'a lock lost to the restart', 10_000);
    const text = await metricsText();
    exported = sampleNames(text);
    series = samples(text);
  });
  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  const metricsText = async () => (await fetch(`${app.url}/metrics`)).text();

  it('the live scrape has a sample of every metric family it declares (so the check below sees them all)', async () => {
    const text = await metricsText();
    const families = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map(([, name, type]) => ({ name: name!, type: type! }));
    expect(families.length).toBeGreaterThanOrEqual(12);
    const empty = families.filter(({ name, type }) => !exported.has(type === 'histogram' ? `${name}_count` : name)).map((f) => f.name);
    expect(empty).toEqual([]);
  });

  it('every metric in every alert rule is exported (or is Prometheus\'s `up`, or one of the announced target metrics)', () => {
    const rules = parseYaml(readFileSync(join(prometheusDir, 'lockscope-alerts.yml'), 'utf8')) as { groups: { rules: { alert: string; expr: string }[] }[] };
    const exprs = rules.groups.flatMap((g) => g.rules.map((r) => ({ where: r.alert, expr: r.expr })));
    expect(exprs.length).toBeGreaterThanOrEqual(9);
    expect(unknownMetrics(exprs, exported, ANNOUNCED)).toEqual([]);
  });

  it('every query of the Grafana dashboard (panels and variables) uses an exported metric', () => {
    const dashboard = JSON.parse(readFileSync(join(root, 'deploy', 'grafana', 'lockscope.json'), 'utf8')) as Dashboard;
    const exprs = dashboardQueries(dashboard);
    expect(exprs.length).toBeGreaterThanOrEqual(20);
    expect(unknownMetrics(exprs, exported, new Set())).toEqual([]);
    // Every panel reads the dashboard's data source variable, so it imports into any Grafana.
    for (const panel of flatPanels(dashboard.panels).filter((p) => p.type !== 'row')) {
      expect(panel.datasource, panel.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
    }
  });

  it('every selector of the replica alerts and the Replicas row finds series (labels included) on a live leader', () => {
    const rules = parseYaml(readFileSync(join(prometheusDir, 'lockscope-alerts.yml'), 'utf8')) as { groups: { name: string; rules: { alert: string; expr: string }[] }[] };
    const alerts = rules.groups.filter((g) => g.name === 'lockscope-replicas').flatMap((g) => g.rules.map((r) => ({ where: r.alert, expr: r.expr })));
    expect(alerts.length).toBeGreaterThanOrEqual(6);
    const dashboard = JSON.parse(readFileSync(join(root, 'deploy', 'grafana', 'lockscope.json'), 'utf8')) as Dashboard;
    const row = dashboard.panels.findIndex((p) => p.type === 'row' && p.title === 'Replicas');
    expect(row).toBeGreaterThanOrEqual(0);
    const next = dashboard.panels.findIndex((p, i) => i > row && p.type === 'row');
    const panels = dashboard.panels.slice(row + 1, next < 0 ? undefined : next);
    const queries = dashboardQueries({ ...dashboard, panels, templating: { list: [] } });
    expect(queries.length).toBeGreaterThanOrEqual(7);
    // The live lockscope leads its one target: each role has a series (0 or 1), so do the lease and the fencing counter.
    expect(unmatchedSelectors([...alerts, ...queries], series)).toEqual([]);
  });
});

async function promtool(args: string[]): Promise<{ stdout: string }> {
  try {
    return await run('promtool', args, { cwd: prometheusDir });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
    if (e.code === 'ENOENT') throw new Error('promtool is not installed: `apt-get install prometheus` (npm test installs it)', { cause: err });
    throw new Error(`promtool ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`, { cause: err });
  }
}

/** Sample names of a Prometheus text exposition (`name{labels} value`), histogram suffixes included. */
function sampleNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    names.add(/^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)![0]);
  }
  return names;
}

interface Sample {
  name: string;
  labels: Map<string, string>;
}

/** Every sample of a Prometheus text exposition with its labels. */
function samples(text: string): Sample[] {
  return text
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)![0];
      const body = line.startsWith('{', name.length) ? line.slice(name.length) : '';
      const labels = new Map([...body.matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)].map(([, k, v]) => [k!, JSON.parse(`"${v!}"`) as string]));
      return { name, labels };
    });
}

/**
 * `where: selector` for each vector selector of an expression that no sample matches, name and label matchers
 * both. Grafana's variables match anything (its "All"); `job` and `instance` are Prometheus's, absent here (empty).
 */
function unmatchedSelectors(exprs: { where: string; expr: string }[], live: Sample[]): string[] {
  const problems: string[] = [];
  for (const { where, expr } of exprs) {
    const text = expr.replace(/\$(\w+)/g, '.*');
    parser.parse(text).iterate({
      enter(node) {
        if (node.name !== 'VectorSelector') return;
        const selector = text.slice(node.from, node.to);
        const name = node.node.getChild('Identifier');
        const matchers = node.node.getChild('LabelMatchers')?.getChildren('UnquotedLabelMatcher') ?? [];
        const tests = matchers.map((m) => {
          const label = text.slice(m.getChild('LabelName')!.from, m.getChild('LabelName')!.to);
          const op = text.slice(m.getChild('MatchOp')!.from, m.getChild('MatchOp')!.to);
          const value = JSON.parse(text.slice(m.getChild('StringLiteral')!.from, m.getChild('StringLiteral')!.to)) as string;
          const re = new RegExp(`^(?:${value})$`);
          const matches = (v: string) => (op === '=' ? v === value : op === '!=' ? v !== value : op === '=~' ? re.test(v) : !re.test(v));
          return (s: Sample) => matches(s.labels.get(label) ?? '');
        });
        const metric = name ? text.slice(name.from, name.to) : null;
        if (!live.some((s) => (metric === null || s.name === metric) && tests.every((t) => t(s)))) problems.push(`${where}: ${selector}`);
        return false;
      },
    });
  }
  return problems;
}

/** `where: name` for each metric an expression selects that is not exported; a parse error is reported too. */
function unknownMetrics(exprs: { where: string; expr: string }[], exported: Set<string>, allowed: Set<string>): string[] {
  const problems: string[] = [];
  for (const { where, expr } of exprs) {
    const names = metricNames(expr);
    if (names === null) problems.push(`${where}: does not parse: ${expr}`);
    else if (!names.length) problems.push(`${where}: selects no metric: ${expr}`);
    else for (const n of names) if (!exported.has(n) && !FROM_PROMETHEUS.has(n) && !allowed.has(n)) problems.push(`${where}: ${n}`);
  }
  return problems;
}

/** Metric names of every vector selector in a PromQL expression (Prometheus's own Lezer grammar), or null if it does not parse. */
function metricNames(expr: string): string[] | null {
  const tree = parser.parse(expr);
  const names: string[] = [];
  let broken = false;
  tree.iterate({
    enter(node) {
      if (node.type.isError) broken = true;
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector') names.push(expr.slice(node.from, node.to));
    },
  });
  return broken ? null : names;
}

interface Panel {
  type: string;
  title: string;
  datasource?: unknown;
  targets?: { expr: string }[];
  panels?: Panel[];
}
interface Dashboard {
  panels: Panel[];
  templating: { list: { type: string; name: string; query: string | { query: string } }[] };
}

const flatPanels = (panels: Panel[]): Panel[] => panels.flatMap((p) => [p, ...flatPanels(p.panels ?? [])]);

/** Every PromQL text of a dashboard, Grafana's interval variables given a value. */
function dashboardQueries(d: Dashboard): { where: string; expr: string }[] {
  const grafanaVars = (q: string) => q.replace(/\$__(rate_interval|interval|range)\b/g, '5m');
  const panels = flatPanels(d.panels).flatMap((p) => (p.targets ?? []).map((t) => ({ where: p.title, expr: grafanaVars(t.expr) })));
  const variables = d.templating.list
    .filter((v) => v.type === 'query')
    .map((v) => {
      const q = typeof v.query === 'string' ? v.query : v.query.query;
      // label_values(<selector>, <label>): the selector is PromQL.
      const selector = /^label_values\((.+),\s*\w+\)$/.exec(q)?.[1] ?? q;
      return { where: `variable ${v.name}`, expr: selector };
    });
  return [...panels, ...variables];
}
