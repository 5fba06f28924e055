import { useCallback, useEffect, useState } from "react";
import { api, describe, undeclared, type Schemas, type WebhookDelivery } from "../api/client";
import { formatAfter, formatTime } from "../shared/format";
import { Link } from "../shared/Link";

type Notification = Schemas["NotificationView"];
const finalStatuses = new Set(["delivered", "failed", "expired", "suppressed", "cancelled"]);

/** One notification's walk: its route, every attempt on a timeline, the bank's webhook deliveries; cancel. */
export function TracePage({ id, canCancel }: { id: string; canCancel: boolean }) {
  const [notification, setNotification] = useState<Notification | null>(null);
  const [deliveries, setDeliveries] = useState<WebhookDelivery[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);

  const load = useCallback(async () => {
    const [found, hooks] = await Promise.all([
      api.GET("/v1/notifications/{id}", { params: { path: { id } } }),
      api.GET("/v1/webhooks/deliveries", { querySerializer: () => `notificationId=${encodeURIComponent(id)}` }),
    ]);
    setNotification(found.data ?? null);
    setError(found.error ? describe(found.error, found.response) : null);
    setDeliveries(undeclared<{ items: WebhookDelivery[] }>(hooks)?.items ?? []);
  }, [id]);

  useEffect(() => {
    void load();
    const timer = window.setInterval(() => void load(), 5000);
    return () => window.clearInterval(timer);
  }, [load]);

  const cancel = async () => {
    const { error: failed, response } = await api.POST("/v1/notifications/{id}/cancel", { params: { path: { id } } });
    setMessage(failed ? describe(failed, response) : "Cancelled.");
    await load();
  };

  if (error) {
    return (
      <section>
        <p><Link to="/notifications">← Notifications</Link></p>
        <p className="error" role="alert">{error}</p>
      </section>
    );
  }
  if (notification === null) {
    return <p role="status">Loading…</p>;
  }

  const final = finalStatuses.has(notification.status);
  return (
    <section aria-labelledby="trace-title">
      <p><Link to="/notifications">← Notifications</Link></p>
      <div className="page-head">
        <h1 id="trace-title">{notification.type} <span className={`status status-${notification.status}`} data-testid="status">{notification.status}</span></h1>
        {canCancel && !final && <button type="button" className="danger" onClick={() => void cancel()}>Cancel notification</button>}
      </div>
      {message && <p role="status">{message}</p>}
      <dl className="facts">
        <div><dt>Id</dt><dd><code>{notification.id}</code></dd></div>
        <div><dt>Priority</dt><dd>{notification.priority}</dd></div>
        <div><dt>Delivered on</dt><dd>{notification.channel ?? "—"}</dd></div>
        <div><dt>Customer</dt><dd>{notification.customerId ?? "—"}</dd></div>
        <div><dt>External id</dt><dd>{notification.externalId ?? "—"}</dd></div>
        <div><dt>Created</dt><dd>{formatTime(notification.createdAt)}</dd></div>
        <div><dt>Updated</dt><dd>{formatTime(notification.updatedAt)}</dd></div>
        <div><dt>Expires</dt><dd>{formatTime(notification.expiresAt)}</dd></div>
      </dl>

      <h2>Route</h2>
      <p className="decided-by" aria-label="Why this route">
        {notification.decidedBy
          ? <>Decided by rule set version {Number(notification.decidedBy.ruleSetVersion)}: {Object.entries(notification.decidedBy.rules).map(([part, rule], i) => (
              <span key={part}>{i > 0 && "; "}{part} by rule <strong>{rule}</strong></span>
            ))}.</>
          : <>No rule decided it: the tenant's default route.</>}
      </p>
      <ol className="route" aria-label="Route the rules decided">
        {notification.route.map((step, i) => (
          <li key={i}>
            <strong>{step.channel}</strong>, waits for {step.waitFor} up to {Number(step.timeoutSeconds)} s
          </li>
        ))}
      </ol>

      <h2>Attempts</h2>
      {(notification.attempts ?? []).length === 0 && <p>No attempt yet.</p>}
      <ol className="timeline" aria-label="Attempts, oldest first">
        {(notification.attempts ?? []).map((a) => (
          <li key={a.id} className={`attempt attempt-${a.state}`}>
            <div className="attempt-head">
              <strong>{a.channel}</strong> via {a.provider ?? "—"} · <span className={`status status-${a.state}`}>{a.state}</span>
              {a.cost !== null && a.cost !== undefined && <> · cost {String(a.cost)}</>}
            </div>
            <dl className="attempt-facts">
              <div><dt>Step</dt><dd>{Number(a.step) + 1}</dd></div>
              <div><dt>Provider message id</dt><dd><code>{a.providerMessageId ?? "—"}</code></dd></div>
              <div><dt>Started</dt><dd>{formatTime(a.createdAt)}</dd></div>
              <div><dt>Sent</dt><dd>{formatAfter(a.createdAt, a.sentAt)}</dd></div>
              <div><dt>Delivered</dt><dd>{formatAfter(a.createdAt, a.deliveredAt)}</dd></div>
              {(a.error || a.errorCode || a.failureKind) && (
                <div className="attempt-error"><dt>Error</dt><dd>{[a.failureKind, a.errorCode, a.error].filter(Boolean).join(" · ")}</dd></div>
              )}
            </dl>
          </li>
        ))}
      </ol>

      <h2>Webhook deliveries</h2>
      {deliveries.length === 0 ? <p>None.</p> : (
        <div className="table-scroll">
          <table>
            <thead><tr><th scope="col">Created</th><th scope="col">Status sent</th><th scope="col">State</th><th scope="col">Attempts</th><th scope="col">Last answer</th></tr></thead>
            <tbody>
              {deliveries.map((d) => (
                <tr key={d.id}>
                  <td>{formatTime(d.createdAt)}</td><td>{d.status}</td><td>{d.state}</td><td>{String(d.attempts)}</td>
                  <td>{d.lastStatusCode ?? "—"}{d.lastError ? ` ${d.lastError}` : ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
