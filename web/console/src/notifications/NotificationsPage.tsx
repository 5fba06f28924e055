import { useEffect, useState, type FormEvent } from "react";
import { api, describe, type Schemas } from "../api/client";
import { navigate } from "../app/router";
import { formatTime } from "../shared/format";
import { Link } from "../shared/Link";

type Page = Schemas["NotificationPage"];
const statuses = ["accepted", "routed", "sending", "delivered", "failed", "expired", "suppressed", "cancelled"];
const channels = ["whatsapp", "telegram", "sms", "email", "push"];
const priorities = ["critical", "high", "normal", "low"];
const textFilters = [
  ["type", "Type"],
  ["customerId", "Customer id"],
  ["externalId", "External id"],
] as const;

/** datetime-local (the browser's zone) to an ISO time for the API, and back. */
function toIso(local: string): string {
  return new Date(local).toISOString();
}
function toLocal(iso: string | null): string {
  if (!iso) return "";
  const d = new Date(iso);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}

/** Search with the filters in the page's own URL (so a search is a link), newest first, paged with the API's cursor. */
export function NotificationsPage({ query }: { query: URLSearchParams }) {
  const [page, setPage] = useState<Page | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [live, setLive] = useState(false);
  const [sources, setSources] = useState<{ id: string; name: string }[]>([]);
  const search = query.toString();

  // The tenant's sources, for the source filter (a key that may not list them gets no such filter).
  useEffect(() => {
    void api.GET("/v1/sources").then(({ data }) => setSources((data ?? []).map((s) => ({ id: String(s.id), name: s.name }))));
  }, []);

  useEffect(() => {
    let current = true;
    const load = async () => {
      const { data, error: failed, response } = await api.GET("/v1/notifications", { querySerializer: () => search });
      if (!current) return;
      setPage(data ?? null);
      setError(failed ? describe(failed, response) : null);
    };
    void load();
    const timer = live && !query.has("before") ? window.setInterval(() => void load(), 5000) : undefined;
    return () => {
      current = false;
      window.clearInterval(timer);
    };
  }, [search, live, query]);

  const apply = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const next = new URLSearchParams();
    for (const [name, value] of form.entries()) {
      if (typeof value !== "string" || value.trim() === "") continue;
      next.set(name, name === "from" || name === "to" ? toIso(value) : value.trim());
    }
    navigate(`/notifications${next.size > 0 ? `?${next.toString()}` : ""}`);
  };

  const older = page?.next ? (() => {
    const next = new URLSearchParams(query);
    next.set("before", page.next);
    return `/notifications?${next.toString()}`;
  })() : null;
  const first = (() => {
    const next = new URLSearchParams(query);
    next.delete("before");
    return `/notifications${next.size > 0 ? `?${next.toString()}` : ""}`;
  })();

  return (
    <section aria-labelledby="notifications-title">
      <div className="page-head">
        <h1 id="notifications-title">Notifications</h1>
        <label className="inline">
          <input type="checkbox" checked={live} onChange={(e) => setLive(e.target.checked)} /> Live refresh
        </label>
      </div>
      <form className="filters" onSubmit={apply} aria-label="Filters" key={search}>
        <label>Status
          <select name="status" defaultValue={query.get("status") ?? ""}>
            <option value="">any</option>
            {statuses.map((s) => <option key={s}>{s}</option>)}
          </select>
        </label>
        <label>Channel
          <select name="channel" defaultValue={query.get("channel") ?? ""}>
            <option value="">any</option>
            {channels.map((s) => <option key={s}>{s}</option>)}
          </select>
        </label>
        <label>Priority
          <select name="priority" defaultValue={query.get("priority") ?? ""}>
            <option value="">any</option>
            {priorities.map((s) => <option key={s}>{s}</option>)}
          </select>
        </label>
        {sources.length > 0 && (
          <label>Source
            <select name="sourceId" defaultValue={query.get("sourceId") ?? ""}>
              <option value="">any</option>
              {sources.map((s) => <option key={s.id} value={s.id}>{s.name}</option>)}
            </select>
          </label>
        )}
        {textFilters.map(([name, label]) => (
          <label key={name}>{label}
            <input name={name} defaultValue={query.get(name) ?? ""} spellCheck={false} />
          </label>
        ))}
        <label>From
          <input name="from" type="datetime-local" defaultValue={toLocal(query.get("from"))} />
        </label>
        <label>To
          <input name="to" type="datetime-local" defaultValue={toLocal(query.get("to"))} />
        </label>
        <div className="actions">
          <button type="submit">Search</button>
          <button type="button" className="secondary" onClick={() => navigate("/notifications")}>Clear</button>
        </div>
      </form>
      {error && <p className="error" role="alert">{error}</p>}
      <div className="table-scroll">
        <table className="list">
          <caption className="visually-hidden">Notifications, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Created</th><th scope="col">Type</th><th scope="col">Status</th><th scope="col">Channel</th>
              <th scope="col">Priority</th><th scope="col">Customer</th><th scope="col">External id</th>
            </tr>
          </thead>
          <tbody>
            {page?.items.map((n) => (
              <tr key={n.id}>
                <td><Link to={`/notifications/${n.id}`}>{formatTime(n.createdAt)}</Link></td>
                <td>{n.type}</td>
                <td><span className={`status status-${n.status}`}>{n.status}</span></td>
                <td>{n.channel ?? "—"}</td>
                <td>{n.priority}</td>
                <td>{n.customerId ?? "—"}</td>
                <td>{n.externalId ?? "—"}</td>
              </tr>
            ))}
            {page !== null && page.items.length === 0 && <tr><td colSpan={7}>No notifications match.</td></tr>}
          </tbody>
        </table>
      </div>
      <nav className="pager" aria-label="Pages of results">
        {query.has("before") && <Link to={first}>Newest</Link>}
        {older && <Link to={older}>Older</Link>}
      </nav>
    </section>
  );
}
