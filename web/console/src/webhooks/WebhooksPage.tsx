import { useCallback, useEffect, useState, type FormEvent } from "react";
import { call, describe, type Schemas } from "../api/client";
import { ConfirmDialog, SecretOnce } from "../shared/Dialog";
import { formatTime } from "../shared/format";
import { Link } from "../shared/Link";
import { locate, noProblems, type Located } from "../shared/problems";

type Endpoint = Schemas["WebhookView"];
type Delivery = Schemas["WebhookDeliveryView"];
const finalStatuses = ["delivered", "failed", "expired", "suppressed", "cancelled"] as const;
const states = ["", "pending", "succeeded", "dead"] as const;

interface Draft {
  id: string | null;
  url: string;
  description: string;
  statuses: string[];
  enabled: boolean;
}

/**
 * The bank's webhook endpoints (list, create, edit, pause, rotate the secret, delete: admin) and their deliveries with
 * filters, a delivery's detail, redelivery of one and of every dead letter.
 */
export function WebhooksPage({ canEdit }: { canEdit: boolean }) {
  const [endpoints, setEndpoints] = useState<Endpoint[] | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [draft, setDraft] = useState<Draft | null>(null);
  const [secret, setSecret] = useState<{ label: string; value: string } | null>(null);
  const [confirm, setConfirm] = useState<{ kind: "rotate" | "delete"; endpoint: Endpoint } | { kind: "redeliver-dead"; endpoint: null } | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [refresh, setRefresh] = useState(0);

  const load = useCallback(async () => {
    const answer = await call<Endpoint[]>("GET", "/v1/webhooks");
    setEndpoints(answer.data);
    setProblem(answer.data === null ? describe(answer.problem, answer.response) : null);
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  const saved = async (view: Endpoint) => {
    setDraft(null);
    setMessage(`Saved ${view.url}.`);
    if (view.secret) setSecret({ label: `Signing secret of ${view.url}`, value: view.secret });
    await load();
  };

  const toggle = async (e: Endpoint) => {
    const answer = await call<Endpoint>("PATCH", `/v1/webhooks/${e.id}`, { enabled: !e.enabled });
    setMessage(answer.data ? `${e.url}: ${answer.data.enabled ? "resumed" : "paused; events wait until it is resumed"}.` : describe(answer.problem, answer.response));
    await load();
  };

  const act = async () => {
    if (confirm === null) return;
    setConfirm(null);
    if (confirm.kind === "redeliver-dead") {
      const answer = await call<Schemas["RedeliveredView"]>("POST", "/v1/webhooks/deliveries/redeliver", {});
      setMessage(answer.data ? `${answer.data.redelivered} dead deliver${answer.data.redelivered === 1 ? "y is" : "ies are"} due again.` : describe(answer.problem, answer.response));
    } else if (confirm.kind === "rotate") {
      const answer = await call<Endpoint>("POST", `/v1/webhooks/${confirm.endpoint.id}/rotate-secret`);
      if (answer.data?.secret) {
        setSecret({ label: `New signing secret of ${confirm.endpoint.url}`, value: answer.data.secret });
        setMessage(`${confirm.endpoint.url}: a new signing secret; events are signed with it from now on.`);
      } else {
        setMessage(describe(answer.problem, answer.response));
      }
    } else {
      const answer = await call<unknown>("DELETE", `/v1/webhooks/${confirm.endpoint.id}`);
      setMessage(answer.response.ok ? `Deleted ${confirm.endpoint.url}.` : describe(answer.problem, answer.response));
    }
    await load();
    setRefresh((r) => r + 1);
  };

  if (problem !== null) return <p className="error" role="alert">{problem}</p>;
  if (endpoints === null) return <p role="status">Loading…</p>;

  return (
    <section aria-labelledby="webhooks-title">
      <div className="page-head">
        <h1 id="webhooks-title">Webhooks</h1>
        {canEdit && draft === null && <button type="button" onClick={() => setDraft({ id: null, url: "https://", description: "", statuses: [], enabled: true })}>New endpoint</button>}
      </div>
      {message && <p role="status" className="ok">{message}</p>}
      {secret && <SecretOnce label={secret.label} secret={secret.value} onDone={() => setSecret(null)} />}
      {draft && <EndpointForm draft={draft} onSaved={(v) => void saved(v)} onCancel={() => setDraft(null)} />}

      <div className="table-scroll">
        <table className="list" aria-label="Webhook endpoints">
          <thead>
            <tr><th scope="col">URL</th><th scope="col">Final statuses</th><th scope="col">State</th><th scope="col">Updated</th><th scope="col"><span className="visually-hidden">Actions</span></th></tr>
          </thead>
          <tbody>
            {endpoints.map((e) => (
              <tr key={e.id}>
                <td className="wrap"><code>{e.url}</code>{e.description && <><br /><span className="hint">{e.description}</span></>}</td>
                <td>{e.statuses.length === 0 ? "all" : e.statuses.join(", ")}</td>
                <td>{e.enabled ? "active" : "paused"}</td>
                <td>{formatTime(e.updatedAt)}</td>
                <td className="row-actions">
                  {canEdit && <button type="button" className="secondary" onClick={() => setDraft({ id: e.id, url: e.url, description: e.description ?? "", statuses: [...e.statuses], enabled: e.enabled })}>Edit<span className="visually-hidden"> {e.url}</span></button>}
                  {canEdit && <button type="button" className="secondary" onClick={() => void toggle(e)}>{e.enabled ? "Pause" : "Resume"}<span className="visually-hidden"> {e.url}</span></button>}
                  {canEdit && <button type="button" className="secondary" onClick={() => setConfirm({ kind: "rotate", endpoint: e })}>Rotate secret<span className="visually-hidden"> of {e.url}</span></button>}
                  {canEdit && <button type="button" className="danger" onClick={() => setConfirm({ kind: "delete", endpoint: e })}>Delete<span className="visually-hidden"> {e.url}</span></button>}
                </td>
              </tr>
            ))}
            {endpoints.length === 0 && <tr><td colSpan={5}>No webhook endpoints.</td></tr>}
          </tbody>
        </table>
      </div>
      {!canEdit && <p className="hint">Read-only: endpoints and redelivery need an admin key.</p>}

      <Deliveries endpoints={endpoints} canEdit={canEdit} refresh={refresh} onRedeliverDead={() => setConfirm({ kind: "redeliver-dead", endpoint: null })} />

      <ConfirmDialog
        open={confirm !== null}
        title={confirm?.kind === "redeliver-dead" ? "Redeliver every dead delivery?" : confirm?.kind === "rotate" ? `Rotate the secret of ${confirm.endpoint.url}?` : `Delete ${confirm?.endpoint?.url ?? ""}?`}
        confirm={confirm?.kind === "redeliver-dead" ? "Redeliver all dead" : confirm?.kind === "rotate" ? "Rotate secret" : "Delete endpoint"}
        onConfirm={() => void act()}
        onClose={() => setConfirm(null)}>
        {confirm?.kind === "redeliver-dead" && <p>Every dead delivery of the tenant is due again, each with a new retry window.</p>}
        {confirm?.kind === "rotate" && <p>Events are signed with the new secret from now on: the bank's receiver must check it (shown here once).</p>}
        {confirm?.kind === "delete" && <p>No more events go to this URL; deliveries not yet made to it are dropped.</p>}
      </ConfirmDialog>
    </section>
  );
}

function fieldOf(pointer: string): string | null {
  const top = pointer.split("/")[1] ?? "";
  return ["url", "statuses", "description"].includes(top) ? top : null;
}

function EndpointForm({ draft: initial, onSaved, onCancel }: { draft: Draft; onSaved: (view: Endpoint) => void; onCancel: () => void }) {
  const [draft, setDraft] = useState(initial);
  const [problems, setProblems] = useState<Located>(noProblems);
  const set = (change: Partial<Draft>) => setDraft((d) => ({ ...d, ...change }));

  const save = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const body = { url: draft.url.trim(), statuses: draft.statuses, description: draft.description.trim() === "" ? null : draft.description, enabled: draft.enabled };
    const answer = draft.id === null ? await call<Endpoint>("POST", "/v1/webhooks", body) : await call<Endpoint>("PATCH", `/v1/webhooks/${draft.id}`, body);
    if (answer.data !== null) onSaved(answer.data);
    else setProblems(locate(answer.problem, fieldOf));
  };

  const errors = (field: string) => (problems.byField.get(field) ?? []).map((e) => e.detail);
  const described = (field: string) => (errors(field).length > 0 ? { "aria-invalid": true, "aria-describedby": `webhook-error-${field}` } : {});
  const errorText = (field: string) => errors(field).length > 0 && <span className="error field-error" id={`webhook-error-${field}`}>{errors(field).join(" ")}</span>;

  return (
    <form className="panel" onSubmit={(e) => void save(e)} aria-label={draft.id === null ? "New endpoint" : "Edit endpoint"} noValidate>
      <h2>{draft.id === null ? "New endpoint" : "Edit endpoint"}</h2>
      {problems.summary && (
        <div className="problems" role="alert">
          <p>{problems.summary}</p>
          {problems.general.length > 0 && <ul>{problems.general.map((g) => <li key={g.pointer}><code>{g.pointer}</code> {g.detail}</li>)}</ul>}
        </div>
      )}
      <div className="fields">
        <div className="field"><label>URL<input type="url" value={draft.url} onChange={(e) => set({ url: e.target.value })} {...described("url")} /></label>{errorText("url")}</div>
        <div className="field"><label>Description<input value={draft.description} onChange={(e) => set({ description: e.target.value })} {...described("description")} /></label>{errorText("description")}</div>
        <label className="check"><input type="checkbox" checked={draft.enabled} onChange={(e) => set({ enabled: e.target.checked })} />Active</label>
      </div>
      <fieldset {...described("statuses")}>
        <legend>Final statuses to report (none ticked: all)</legend>
        <div className="inline wrap-row">
          {finalStatuses.map((s) => (
            <label key={s} className="check">
              <input type="checkbox" checked={draft.statuses.includes(s)} onChange={(e) => set({ statuses: e.target.checked ? [...draft.statuses, s] : draft.statuses.filter((x) => x !== s) })} />{s}
            </label>
          ))}
        </div>
        {errorText("statuses")}
      </fieldset>
      <p className="hint">Replies, customers' messages and consent changes go to every active endpoint.</p>
      <div className="editor-actions">
        <button type="submit">{draft.id === null ? "Create endpoint" : "Save endpoint"}</button>
        <button type="button" className="secondary" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}

/** Deliveries, newest first, filtered by state and endpoint; one opened shows its detail; redeliver one or all dead. */
function Deliveries({ endpoints, canEdit, refresh, onRedeliverDead }: { endpoints: Endpoint[]; canEdit: boolean; refresh: number; onRedeliverDead: () => void }) {
  const [state, setState] = useState<string>("");
  const [endpoint, setEndpoint] = useState<string>("");
  const [cursors, setCursors] = useState<string[]>([]);
  const [page, setPage] = useState<Schemas["WebhookDeliveryPage"] | null>(null);
  const [open, setOpen] = useState<Delivery | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const before = cursors.at(-1);

  useEffect(() => {
    let current = true;
    const query = new URLSearchParams({ limit: "50" });
    if (state) query.set("state", state);
    if (endpoint) query.set("endpointId", endpoint);
    if (before) query.set("before", before);
    const load = async () => {
      const answer = await call<Schemas["WebhookDeliveryPage"]>("GET", `/v1/webhooks/deliveries?${query.toString()}`);
      if (current) setPage(answer.data);
    };
    void load();
    // Deliveries move on their own (retries, redeliveries): the first page follows them.
    const timer = before ? undefined : window.setInterval(() => void load(), 5000);
    return () => {
      current = false;
      window.clearInterval(timer);
    };
  }, [state, endpoint, before, refresh, tick]);

  // The opened delivery follows its own state (a redelivery is tried on the dispatcher's next round).
  const openId = open?.id;
  useEffect(() => {
    if (openId === undefined) return;
    let current = true;
    const timer = window.setInterval(() => {
      void call<Delivery>("GET", `/v1/webhooks/deliveries/${openId}`).then((answer) => {
        if (current && answer.data) setOpen(answer.data);
      });
    }, 2000);
    return () => {
      current = false;
      window.clearInterval(timer);
    };
  }, [openId]);

  const redeliver = async (d: Delivery) => {
    const answer = await call<Delivery>("POST", `/v1/webhooks/deliveries/${d.id}/redeliver`);
    setNote(answer.data ? "Due again: it is sent on the next round." : describe(answer.problem, answer.response));
    if (answer.data) setOpen(answer.data);
    setTick((t) => t + 1);
  };

  const urlOf = (id: string) => endpoints.find((e) => e.id === id)?.url ?? id;

  return (
    <>
      <div className="page-head costs-head">
        <h2>Deliveries</h2>
        {canEdit && <button type="button" className="secondary" onClick={onRedeliverDead}>Redeliver all dead</button>}
      </div>
      <form className="filters" aria-label="Filter deliveries" onSubmit={(e) => e.preventDefault()}>
        <label>State
          <select value={state} onChange={(e) => { setState(e.target.value); setCursors([]); }}>
            {states.map((s) => <option key={s} value={s}>{s === "" ? "any" : s === "dead" ? "dead letters" : s}</option>)}
          </select>
        </label>
        <label>Endpoint
          <select value={endpoint} onChange={(e) => { setEndpoint(e.target.value); setCursors([]); }}>
            <option value="">any</option>
            {endpoints.map((e) => <option key={e.id} value={e.id}>{e.url}</option>)}
          </select>
        </label>
      </form>
      {note && <p role="status" className="ok">{note}</p>}
      <div className="table-scroll">
        <table className="list" aria-label="Deliveries">
          <thead><tr><th scope="col">Created</th><th scope="col">Event</th><th scope="col">State</th><th scope="col">Attempts</th><th scope="col">Last answer</th><th scope="col">Endpoint</th></tr></thead>
          <tbody>
            {page?.items.map((d) => (
              <tr key={d.id} aria-current={open?.id === d.id ? "true" : undefined}>
                <td><button type="button" className="link" onClick={() => setOpen(d)}>{formatTime(d.createdAt)}<span className="visually-hidden"> {d.event} delivery</span></button></td>
                <td>{d.event}</td>
                <td><span className={`status delivery-${d.state}`}>{d.state}</span></td>
                <td>{d.attempts}</td>
                <td>{d.lastStatusCode ?? (d.lastError ? "no answer" : "—")}</td>
                <td className="wrap"><code>{urlOf(d.endpointId)}</code></td>
              </tr>
            ))}
            {page !== null && page.items.length === 0 && <tr><td colSpan={6}>No deliveries match.</td></tr>}
          </tbody>
        </table>
      </div>
      <div className="pager">
        {cursors.length > 0 && <button type="button" className="secondary" onClick={() => setCursors([])}>Newest</button>}
        {page?.next && <button type="button" className="secondary" onClick={() => setCursors([...cursors, page.next!])}>Older</button>}
      </div>
      {open && (
        <section className="panel" aria-labelledby="delivery-title" data-testid="delivery">
          <div className="page-head">
            <h3 id="delivery-title">Delivery of {open.event}</h3>
            <div className="row-actions">
              {canEdit && <button type="button" onClick={() => void redeliver(open)}>Redeliver</button>}
              <button type="button" className="secondary" onClick={() => setOpen(null)}>Close<span className="visually-hidden"> the delivery</span></button>
            </div>
          </div>
          <dl className="facts">
            <div><dt>State</dt><dd data-testid="delivery-state">{open.state}</dd></div>
            <div><dt>Request</dt><dd>POST <code>{urlOf(open.endpointId)}</code>, event <code>{open.eventId}</code></dd></div>
            <div><dt>Notification</dt><dd>{open.notificationId === "00000000-0000-0000-0000-000000000000" ? "none (a customer's message)" : <Link to={`/notifications/${open.notificationId}`}>{open.notificationId}</Link>}</dd></div>
            <div><dt>Attempts</dt><dd>{open.attempts}</dd></div>
            <div><dt>Last response code</dt><dd>{open.lastStatusCode ?? "—"}</dd></div>
            <div><dt>Last error</dt><dd className={open.lastError ? "error" : undefined}>{open.lastError ?? "—"}</dd></div>
            <div><dt>Next attempt</dt><dd>{formatTime(open.nextAttemptAt)}</dd></div>
            <div><dt>Created / updated</dt><dd>{formatTime(open.createdAt)} / {formatTime(open.updatedAt)}</dd></div>
          </dl>
        </section>
      )}
    </>
  );
}
