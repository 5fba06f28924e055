import { useEffect, useMemo, useState } from "react";
import { api, describe, undeclared, type CostReport, type ProviderAccount, type Schemas } from "../api/client";
import { formatMs, formatPercent } from "../shared/format";
import { Chart, type Series } from "./Chart";

type Overview = Schemas["Overview"];
const ranges = ["1h", "24h", "7d"] as const;
type Range = (typeof ranges)[number];
// Longer ranges cost more to count (docs/CONSOLE.md, "The overview's query") and change more slowly.
const refreshMs: Record<Range, number> = { "1h": 15_000, "24h": 60_000, "7d": 300_000 };

const channelColors: Record<string, string> = {
  whatsapp: "#3ecf8e", telegram: "#4ea8de", sms: "#f4a261", email: "#c77dff", push: "#ffd166", none: "#8d99ae",
};
const stateColors: Record<string, string> = { delivered: "#3ecf8e", failed: "#ef476f", "in flight": "#4ea8de", other: "#8d99ae" };

/** The day's cost per currency, e.g. "0.42 EUR"; a dash before any priced attempt. */
function formatCost(report: CostReport | null): string {
  const byCurrency = new Map<string, number>();
  for (const row of report?.totals ?? []) {
    if (row.currency) byCurrency.set(row.currency, (byCurrency.get(row.currency) ?? 0) + Number(row.cost));
  }
  return byCurrency.size === 0 ? "—" : [...byCurrency].map(([currency, cost]) => `${cost.toFixed(2)} ${currency}`).join(" + ");
}

function stateOf(status: string): string {
  if (status === "delivered" || status === "failed") return status;
  if (status === "accepted" || status === "routed" || status === "sending") return "in flight";
  return "other";
}

/** Per-minute rates by a key of each count, one series per key, over every bucket of the range. */
function seriesBy(overview: Overview, key: (c: Overview["counts"][number]) => string, colors: Record<string, string>): [number[], Series[]] {
  const width = Number(overview.bucketSeconds);
  const start = Math.floor(new Date(overview.from).getTime() / 1000);
  const end = Math.floor(new Date(overview.to).getTime() / 1000);
  const times: number[] = [];
  for (let t = start; t < end; t += width) times.push(t);
  const byKey = new Map<string, number[]>();
  for (const count of overview.counts) {
    const k = key(count);
    const values = byKey.get(k) ?? times.map(() => 0);
    const index = Math.floor((new Date(count.bucket).getTime() / 1000 - start) / width);
    if (index >= 0 && index < values.length) values[index] = (values[index] ?? 0) + Number(count.count) / (width / 60);
    byKey.set(k, values);
  }
  const series = [...byKey.entries()].sort(([a], [b]) => a.localeCompare(b))
    .map(([label, values]) => ({ label, values, color: colors[label] ?? "#8d99ae" }));
  return [times, series];
}

const percentileColors = { p50: "#3ecf8e", p95: "#ffd166", p99: "#ef476f" };

/** Accept→delivered p50/p95/p99 per bucket of the range (a gap where nothing was delivered). */
function latencySeries(overview: Overview): [number[], Series[]] {
  const width = Number(overview.bucketSeconds);
  const start = Math.floor(new Date(overview.from).getTime() / 1000);
  const end = Math.floor(new Date(overview.to).getTime() / 1000);
  const times: number[] = [];
  for (let t = start; t < end; t += width) times.push(t);
  const p50: (number | null)[] = times.map(() => null);
  const p95 = [...p50];
  const p99 = [...p50];
  for (const bucket of overview.latencyBuckets) {
    const index = Math.floor((new Date(bucket.bucket ?? overview.from).getTime() / 1000 - start) / width);
    if (index < 0 || index >= times.length) continue;
    p50[index] = bucket.p50Ms === null ? null : Number(bucket.p50Ms);
    p95[index] = bucket.p95Ms === null ? null : Number(bucket.p95Ms);
    p99[index] = bucket.p99Ms === null ? null : Number(bucket.p99Ms);
  }
  return [times, [
    { label: "p50", values: p50, color: percentileColors.p50 },
    { label: "p95", values: p95, color: percentileColors.p95 },
    { label: "p99", values: p99, color: percentileColors.p99 },
  ]];
}

/** A percentile is its log-scale bin's upper bound (docs/CONSOLE.md): "at most". */
function formatPercentile(ms: number | string | null | undefined): string {
  return ms === null || ms === undefined ? "—" : `≤ ${formatMs(Number(ms))}`;
}

export function OverviewPage() {
  const [range, setRange] = useState<Range>("1h");
  const [overview, setOverview] = useState<Overview | null>(null);
  const [providers, setProviders] = useState<ProviderAccount[] | null>(null);
  const [costs, setCosts] = useState<CostReport | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    const load = async () => {
      // Today: since midnight UTC, as the cost report counts days.
      const today = new Date().toISOString().slice(0, 10);
      const [stats, accounts, spent] = await Promise.all([
        api.GET("/v1/stats/overview", { querySerializer: () => `range=${range}` }),
        api.GET("/v1/providers"),
        api.GET("/v1/reports/costs", { querySerializer: () => `from=${today}&groupBy=channel` }),
      ]);
      if (!live) return;
      setCosts(undeclared<CostReport>(spent));
      if (stats.data) setOverview(stats.data);
      setProviders(undeclared<ProviderAccount[]>(accounts));
      setError(stats.error ? describe(stats.error, stats.response) : null);
    };
    void load();
    const timer = window.setInterval(() => void load(), refreshMs[range]);
    return () => {
      live = false;
      window.clearInterval(timer);
    };
  }, [range]);

  const byChannel = useMemo(() => (overview ? seriesBy(overview, (c) => c.channel ?? "none", channelColors) : null), [overview]);
  const byState = useMemo(() => (overview ? seriesBy(overview, (c) => stateOf(c.status), stateColors) : null), [overview]);
  const latency = useMemo(() => (overview ? latencySeries(overview) : null), [overview]);

  return (
    <section aria-labelledby="overview-title">
      <div className="page-head">
        <h1 id="overview-title">Overview</h1>
        <fieldset className="segmented">
          <legend className="visually-hidden">Range</legend>
          {ranges.map((r) => (
            <label key={r}>
              <input type="radio" name="range" value={r} checked={range === r} onChange={() => setRange(r)} />
              <span>{r}</span>
            </label>
          ))}
        </fieldset>
      </div>
      {error && <p className="error" role="alert">{error}</p>}
      {overview && (
        <>
          <dl className="tiles" aria-label="Totals">
            <div><dt>Notifications</dt><dd data-testid="total">{String(overview.total)}</dd></div>
            <div><dt>Delivered</dt><dd>{String(overview.delivered)}</dd></div>
            <div><dt>Final</dt><dd>{String(overview.final)}</dd></div>
            <div><dt>Cost today (UTC)</dt><dd data-testid="cost-today">{formatCost(costs)}</dd></div>
            <div><dt>Delivery rate</dt><dd data-testid="delivery-rate">{formatPercent(overview.deliveryRate === null ? null : Number(overview.deliveryRate))}</dd></div>
            <div><dt>Fallback rate</dt><dd data-testid="fallback-rate" title={`${String(overview.fallbacks)} of ${String(overview.final)} final went past their first channel`}>{formatPercent(overview.fallbackRate === null ? null : Number(overview.fallbackRate))}</dd></div>
            <div><dt>Accept→delivered p50</dt><dd data-testid="latency-p50">{formatPercentile(overview.latency.p50Ms)}</dd></div>
            <div><dt>p95</dt><dd data-testid="latency-p95">{formatPercentile(overview.latency.p95Ms)}</dd></div>
            <div><dt>p99</dt><dd data-testid="latency-p99">{formatPercentile(overview.latency.p99Ms)}</dd></div>
          </dl>
          <div className="charts">
            {byChannel && <Chart title="Per minute by delivering channel" times={byChannel[0]} series={byChannel[1]} unit="/min" />}
            {byState && <Chart title="Per minute by state" times={byState[0]} series={byState[1]} unit="/min" />}
            {latency && (
              <Chart
                title="Accept→delivered percentiles"
                times={latency[0]}
                series={latency[1]}
                unit="ms"
                log
                summary={`p50 ${formatPercentile(overview.latency.p50Ms)}, p95 ${formatPercentile(overview.latency.p95Ms)}, p99 ${formatPercentile(overview.latency.p99Ms)} over ${String(overview.latency.measured)} delivered`}
              />
            )}
          </div>
          <div className="columns">
            <table>
              <caption>Waiting per lane (not yet final)</caption>
              <thead><tr><th scope="col">Lane</th><th scope="col">Notifications</th></tr></thead>
              <tbody>
                {overview.waiting.map((w) => (
                  <tr key={w.lane}><th scope="row">{w.lane}</th><td>{String(w.count)}</td></tr>
                ))}
              </tbody>
            </table>
            <table>
              <caption>Provider health</caption>
              <thead><tr><th scope="col">Provider</th><th scope="col">Channel</th><th scope="col">Health</th><th scope="col">Per node</th></tr></thead>
              <tbody>
                {(providers ?? []).map((p) => (
                  <tr key={p.id}>
                    <th scope="row">{p.name}</th>
                    <td>{p.channel}</td>
                    <td><span className={`health health-${p.health}`}>{p.health}{p.isolated ? " (isolated)" : ""}</span></td>
                    <td>{(p.nodes ?? []).map((n) => (
                      <span key={n.node} className={`node health-${n.state}`} title={`since ${new Date(n.since).toLocaleString()}`}>{n.node}: {n.state}</span>
                    ))}{(p.nodes ?? []).length === 0 && "—"}</td>
                  </tr>
                ))}
                {providers !== null && providers.length === 0 && <tr><td colSpan={4}>No provider accounts.</td></tr>}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}
