import { useCallback, useEffect, useState, type FormEvent } from "react";
import { call, describe, type Schemas } from "../api/client";
import { navigate } from "../app/router";
import { ConfirmDialog } from "../shared/Dialog";
import { formatTime } from "../shared/format";
import { Link } from "../shared/Link";
import { CustomerForm } from "./CustomerForm";

type Customer = Schemas["CustomerView"];

/**
 * Customers: the stored ones a page at a time, or one opened by id (contacts are encrypted at rest, so there is no
 * search by phone or e-mail); a customer's contacts, preferences, consent ledger, recent notifications and the
 * messages it sent; edit and erase for admin keys.
 */
export function CustomersPage({ id, canEdit }: { id: string | null; canEdit: boolean }) {
  return id === null ? <CustomerList canEdit={canEdit} /> : <CustomerDetail key={id} id={id} canEdit={canEdit} />;
}

function CustomerList({ canEdit }: { canEdit: boolean }) {
  const [cursors, setCursors] = useState<string[]>([]);
  const [page, setPage] = useState<Schemas["CustomerPage"] | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const after = cursors.at(-1);

  useEffect(() => {
    let current = true;
    void call<Schemas["CustomerPage"]>("GET", `/v1/customers?limit=50${after ? `&after=${encodeURIComponent(after)}` : ""}`).then((answer) => {
      if (!current) return;
      setPage(answer.data);
      setProblem(answer.data === null ? describe(answer.problem, answer.response) : null);
    });
    return () => {
      current = false;
    };
  }, [after]);

  const open = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const wanted = String(new FormData(e.currentTarget).get("id") ?? "").trim();
    if (wanted.length > 0) navigate(`/customers/${encodeURIComponent(wanted)}`);
  };

  return (
    <section aria-labelledby="customers-title">
      <div className="page-head"><h1 id="customers-title">Customers</h1></div>
      <form className="filters" onSubmit={open} role="search" aria-label="Open a customer">
        <label>Customer id<input name="id" autoComplete="off" required /></label>
        <div className="actions"><button type="submit">{canEdit ? "Open or create" : "Open"}</button></div>
      </form>
      <p className="hint">Contacts are stored encrypted, so customers are found by their id (the bank's), not by phone or e-mail.</p>
      {problem && <p className="error" role="alert">{problem}</p>}
      <div className="table-scroll">
        <table className="list" aria-label="Stored customers">
          <thead>
            <tr><th scope="col">Id</th><th scope="col">Language</th><th scope="col">Preferred channel</th><th scope="col">Opt-outs</th><th scope="col">Updated</th></tr>
          </thead>
          <tbody>
            {page?.items.map((c) => (
              <tr key={c.id}>
                <td><Link to={`/customers/${encodeURIComponent(c.id)}`}>{c.id}</Link></td>
                <td>{c.language ?? "—"}</td>
                <td>{c.preferredChannel ?? "—"}</td>
                <td>{c.optOuts.length}</td>
                <td>{formatTime(c.updatedAt)}</td>
              </tr>
            ))}
            {page !== null && page.items.length === 0 && <tr><td colSpan={5}>No stored customers.</td></tr>}
          </tbody>
        </table>
      </div>
      <div className="pager">
        {cursors.length > 0 && <button type="button" className="secondary" onClick={() => setCursors([])}>First page</button>}
        {page?.next && <button type="button" className="secondary" onClick={() => setCursors([...cursors, page.next!])}>Next page</button>}
      </div>
    </section>
  );
}

interface Related {
  consents: Schemas["ConsentView"][];
  notifications: Schemas["NotificationView"][];
  messages: Schemas["CustomerMessageView"][];
}

function CustomerDetail({ id, canEdit }: { id: string; canEdit: boolean }) {
  const path = `/v1/customers/${encodeURIComponent(id)}`;
  // undefined: loading; null: no stored customer of this id.
  const [customer, setCustomer] = useState<Customer | null | undefined>(undefined);
  const [related, setRelated] = useState<Related>({ consents: [], notifications: [], messages: [] });
  const [problem, setProblem] = useState<string | null>(null);
  const [editing, setEditing] = useState(false);
  const [erasing, setErasing] = useState(false);
  const [message, setMessage] = useState<string | null>(null);

  const load = useCallback(async () => {
    const [stored, consents, notifications, messages] = await Promise.all([
      call<Customer>("GET", path),
      call<Schemas["ConsentPage"]>("GET", `/v1/consents?customer=${encodeURIComponent(id)}&limit=50`),
      call<Schemas["NotificationPage"]>("GET", `/v1/notifications?customerId=${encodeURIComponent(id)}&limit=20`),
      call<Schemas["CustomerMessagePage"]>("GET", `${path}/messages?limit=20`),
    ]);
    if (stored.response.status === 404) {
      setCustomer(null);
    } else if (stored.data === null) {
      setProblem(describe(stored.problem, stored.response));
    } else {
      setCustomer(stored.data);
    }
    setRelated({
      consents: consents.data?.items ?? [],
      notifications: notifications.data?.items ?? [],
      messages: messages.data?.items ?? [],
    });
  }, [id, path]);

  useEffect(() => {
    void load();
  }, [load]);

  const erase = async () => {
    setErasing(false);
    const answer = await call<Schemas["ErasureResult"]>("POST", `${path}/erase`);
    if (answer.data === null) {
      setMessage(describe(answer.problem, answer.response));
      return;
    }
    const r = answer.data;
    setMessage(`Erased ${id}: ${r.customerDeleted ? "the stored customer deleted" : "no stored customer"}, ${r.cancelled} notification(s) cancelled, `
      + `${r.redacted} notification(s) redacted, ${r.redactedMessages ?? 0} message(s) redacted, ${r.redactedConsents ?? 0} consent entr(ies) without their address.`);
    await load();
  };

  const saved = async (view: Customer) => {
    setEditing(false);
    setCustomer(view);
    setMessage(`Saved ${view.id}.`);
    await load();
  };

  if (problem !== null) return <p className="error" role="alert">{problem}</p>;
  if (customer === undefined) return <p role="status">Loading…</p>;

  return (
    <section aria-labelledby="customer-title">
      <div className="page-head">
        <h1 id="customer-title">Customer <code>{id}</code></h1>
        <div className="row-actions">
          <Link to="/customers">All customers</Link>
          {canEdit && customer !== null && !editing && <button type="button" onClick={() => setEditing(true)}>Edit</button>}
          {canEdit && <button type="button" className="danger" onClick={() => setErasing(true)}>Erase…</button>}
        </div>
      </div>
      {message && <p role="status" className="ok">{message}</p>}

      {customer === null && !editing && (
        <p>
          No stored customer with this id.{" "}
          {canEdit && <button type="button" onClick={() => setEditing(true)}>Create customer {id}</button>}
        </p>
      )}
      {editing && <CustomerForm id={id} customer={customer} onSaved={(v) => void saved(v)} onCancel={() => setEditing(false)} />}
      {customer !== null && !editing && <CustomerFacts customer={customer} />}

      <h2>Consent ledger</h2>
      <div className="table-scroll">
        <table className="list" aria-label="Consent ledger">
          <thead><tr><th scope="col">Recorded</th><th scope="col">Action</th><th scope="col">Channel</th><th scope="col">Address</th><th scope="col">Type</th><th scope="col">How</th><th scope="col">By</th></tr></thead>
          <tbody>
            {related.consents.map((c) => (
              <tr key={c.id}>
                <td>{formatTime(c.recordedAt)}</td><td>{c.action === "opt_out" ? "opt-out" : "opt-in"}</td><td>{c.channel}</td>
                <td data-testid="consent-address">{c.address}</td><td>{c.type ?? "all types"}</td><td>{c.source}</td><td>{c.actor}</td>
              </tr>
            ))}
            {related.consents.length === 0 && <tr><td colSpan={7}>No entries.</td></tr>}
          </tbody>
        </table>
      </div>

      <h2>Recent notifications</h2>
      <div className="table-scroll">
        <table className="list" aria-label="Recent notifications">
          <thead><tr><th scope="col">Created</th><th scope="col">Type</th><th scope="col">Status</th><th scope="col">Channel</th><th scope="col">External id</th></tr></thead>
          <tbody>
            {related.notifications.map((n) => (
              <tr key={n.id}>
                <td><Link to={`/notifications/${n.id}`}>{formatTime(n.createdAt)}</Link></td>
                <td>{n.type}</td><td><span className={`status status-${n.status}`}>{n.status}</span></td><td>{n.channel ?? "—"}</td><td>{n.externalId ?? "—"}</td>
              </tr>
            ))}
            {related.notifications.length === 0 && <tr><td colSpan={5}>No notifications.</td></tr>}
          </tbody>
        </table>
      </div>
      <p><Link to={`/notifications?customerId=${encodeURIComponent(id)}`}>All of this customer's notifications</Link></p>

      <h2>Messages the customer sent</h2>
      <div className="table-scroll">
        <table className="list" aria-label="Messages the customer sent">
          <thead><tr><th scope="col">Received</th><th scope="col">Kind</th><th scope="col">Channel</th><th scope="col">From</th><th scope="col">Text or choice</th><th scope="col">Answers</th></tr></thead>
          <tbody>
            {related.messages.map((m) => (
              <tr key={m.id}>
                <td>{formatTime(m.receivedAt)}</td><td>{m.type === "notification.reply" ? "reply" : "message"}{m.late ? " (late)" : ""}</td><td>{m.channel}</td>
                <td>{m.from}</td><td>{m.actionId ?? m.text ?? "—"}</td>
                <td>{m.notificationId ? <Link to={`/notifications/${m.notificationId}`}>notification</Link> : "—"}</td>
              </tr>
            ))}
            {related.messages.length === 0 && <tr><td colSpan={6}>No messages.</td></tr>}
          </tbody>
        </table>
      </div>

      <ConfirmDialog open={erasing} title={`Erase customer ${id}?`} confirm={`Erase ${id}`} onConfirm={() => void erase()} onClose={() => setErasing(false)}>
        <p>This cannot be undone. Herald will:</p>
        <ul>
          <li><strong>cancel</strong> this customer's notifications that are still to be sent;</li>
          <li><strong>delete</strong> the stored customer: contacts, language, time zone, preferences, opt-outs, attributes;</li>
          <li><strong>remove</strong> the contacts and data of its notifications and the text and address of the messages it sent.</li>
        </ul>
        <p>Kept, without personal data: each notification's id, type, status, times, attempts and costs (for reports);
          the consent ledger's entries (who opted out of what, how and when), with the address removed; the audit trail's
          record of this erasure.</p>
      </ConfirmDialog>
    </section>
  );
}

function CustomerFacts({ customer: c }: { customer: Customer }) {
  const fact = (label: string, value: string | null | undefined, testId?: string) => (
    <div><dt>{label}</dt><dd data-testid={testId}>{value ?? "—"}</dd></div>
  );
  return (
    <>
      <h2>Contacts</h2>
      <dl className="facts" aria-label="Contacts">
        {fact("Phone", c.phone, "phone")}
        {fact("Telegram chat id", c.telegramChatId)}
        {fact("E-mail", c.email, "email")}
        {fact("Push token", c.pushToken)}
      </dl>
      <h2>Preferences</h2>
      <dl className="facts" aria-label="Preferences">
        {fact("Language", c.language)}
        {fact("Time zone", c.timeZone)}
        {fact("Preferred channel", c.preferredChannel)}
        {fact("Quiet hours", c.quietHours ? `${c.quietHours.start} to ${c.quietHours.end}` : null)}
        {fact("Opt-outs", c.optOuts.length === 0 ? "none" : c.optOuts.map((o) => `${o.channel ?? "every channel"}${o.type ? ` · ${o.type}` : ""}`).join("; "), "opt-outs")}
        {fact("Attributes", Object.keys(c.attributes).length === 0 ? "none" : Object.entries(c.attributes).map(([k, v]) => `${k}=${v}`).join(", "))}
        {fact("Created", formatTime(c.createdAt))}
        {fact("Updated", formatTime(c.updatedAt))}
      </dl>
    </>
  );
}
