import { useCallback, useEffect, useMemo, useState } from "react";
import { call, describe } from "../api/client";
import { Chart, type Series } from "../overview/Chart";
import { formatTime } from "../shared/format";

// GET /v1/providers (ProvidersApi.cs) and GET /v1/reports/costs (CostReportsApi.cs) as the console reads them.
interface Account {
  id: string;
  channel: string;
  kind: string;
  name: string;
  weight: number;
  enabled: boolean;
  ratePerSecond?: number;
  currency?: string;
  prices?: Record<string, number>;
  isolated: boolean;
  health: string;
  nodes?: { node: string; state: string; since: string }[];
}
interface CostRow { channel?: string; providerId?: string; providerName?: string; day?: string; currency?: string; attempts: number; cost: number }

const palette = ["#6cb6ff", "#3ecf8e", "#ffd166", "#ff6b81", "#c792ea", "#7fdbca", "#f78c6c"];
const day = 86_400_000;

/** Provider accounts per channel: circuits per node, rate limits, prices, isolate/reset; costs per day as a chart. */
export function ProvidersPage({ canEdit }: { canEdit: boolean }) {
  const [accounts, setAccounts] = useState<Account[] | null>(null);
  const [costs, setCosts] = useState<CostRow[]>([]);
  const [by, setBy] = useState<"channel" | "provider">("channel");
  const [problem, setProblem] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);

  const load = useCallback(async () => {
    const from = new Date(Date.now() - 30 * day);
    from.setUTCHours(0, 0, 0, 0);
    const [list, report] = await Promise.all([
      call<Account[]>("GET", "/v1/providers"),
      call<{ totals: CostRow[] }>("GET", `/v1/reports/costs?from=${encodeURIComponent(from.toISOString())}&groupBy=${by},day`),
    ]);
    if (list.data === null) {
      setProblem(describe(list.problem, list.response));
      return;
    }
    setAccounts(list.data);
    setCosts(report.data?.totals ?? []);
  }, [by]);

  useEffect(() => {
    void load();
    const timer = window.setInterval(() => void load(), 15_000);
    return () => window.clearInterval(timer);
  }, [load]);

  const act = async (account: Account, action: "isolate" | "reset") => {
    const answer = await call<unknown>("POST", `/v1/providers/${account.id}/${action}`);
    setMessage(answer.response.ok
      ? `${account.name}: ${action === "isolate" ? "isolated; no node sends through it until it is reset" : "reset; its circuits are closed again"}.`
      : describe(answer.problem, answer.response));
    await load();
  };

  // One series per channel (or provider) and currency, one point per UTC day of the last 30.
  const chart = useMemo(() => {
    const start = Math.floor((Date.now() - 29 * day) / day) * day;
    const times = Array.from({ length: 30 }, (_, i) => (start + i * day) / 1000);
    const groups = new Map<string, number[]>();
    for (const row of costs) {
      const key = `${(by === "channel" ? row.channel : row.providerName) ?? "—"}${row.currency ? ` (${row.currency})` : ""}`;
      const values = groups.get(key) ?? new Array<number>(30).fill(0);
      const index = row.day ? Math.round((Date.parse(`${row.day}T00:00:00Z`) - start) / day) : -1;
      if (index >= 0 && index < 30) values[index] = (values[index] ?? 0) + Number(row.cost);
      groups.set(key, values);
    }
    const series: Series[] = [...groups.entries()].map(([label, values], i) => ({ label, values, color: palette[i % palette.length]! }));
    return { times, series };
  }, [costs, by]);

  if (problem !== null) return <p className="error" role="alert">{problem}</p>;
  if (accounts === null) return <p role="status">Loading…</p>;

  const channels = [...new Set(accounts.map((a) => a.channel))].sort();
  return (
    <section aria-labelledby="providers-title">
      <div className="page-head"><h1 id="providers-title">Providers</h1></div>
      {message && <p role="status" className="ok">{message}</p>}
      {accounts.length === 0 && <p>No provider accounts.</p>}
      {channels.map((channel) => (
        <div key={channel} className="table-scroll">
          <table aria-label={`${channel} accounts`}>
            <caption>{channel}</caption>
            <thead>
              <tr><th scope="col">Account</th><th scope="col">Health</th><th scope="col">Circuits per node</th><th scope="col">Rate limit</th><th scope="col">Prices</th><th scope="col"><span className="visually-hidden">Actions</span></th></tr>
            </thead>
            <tbody>
              {accounts.filter((a) => a.channel === channel).map((a) => (
                <tr key={a.id}>
                  <td><strong>{a.name}</strong><br /><span className="hint">{a.kind} · weight {a.weight}{a.enabled ? "" : " · disabled"}</span></td>
                  <td data-testid={`health-${a.name}`}><span className={`health-${a.health.toLowerCase()}`}>{a.isolated ? "isolated" : a.health}</span></td>
                  <td>{(a.nodes ?? []).length === 0 ? <span className="hint">no node reported</span> : (a.nodes ?? []).map((n) => (
                    <span key={n.node} className="node" title={`since ${formatTime(n.since)}`}>{n.node}: <span className={`health-${n.state.toLowerCase()}`}>{n.state}</span></span>
                  ))}</td>
                  <td>{a.ratePerSecond ? `${a.ratePerSecond}/s` : "none"}</td>
                  <td>{a.prices && Object.keys(a.prices).length > 0
                    ? Object.entries(a.prices).map(([country, price]) => `${country} ${price}`).join(", ") + (a.currency ? ` ${a.currency}` : "")
                    : "—"}</td>
                  <td className="row-actions">
                    {canEdit && !a.isolated && <button type="button" className="danger" onClick={() => void act(a, "isolate")}>Isolate<span className="visually-hidden"> {a.name}</span></button>}
                    {canEdit && <button type="button" className="secondary" onClick={() => void act(a, "reset")}>Reset<span className="visually-hidden"> {a.name}</span></button>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ))}

      <div className="page-head costs-head">
        <h2>Costs per day, last 30 days</h2>
        <fieldset className="segmented">
          <legend className="visually-hidden">Costs by</legend>
          {(["channel", "provider"] as const).map((g) => (
            <label key={g}><input type="radio" name="costs-by" value={g} checked={by === g} onChange={() => setBy(g)} /><span>by {g}</span></label>
          ))}
        </fieldset>
      </div>
      <Chart title={`Cost by ${by} and day (UTC)`} times={chart.times} series={chart.series} unit="cost" />
    </section>
  );
}
