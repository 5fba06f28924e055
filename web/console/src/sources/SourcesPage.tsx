import { useCallback, useEffect, useState, type FormEvent } from "react";
import { call, describe, type Problem, type Schemas } from "../api/client";
import { ConfirmDialog, SecretOnce } from "../shared/Dialog";
import { formatTime } from "../shared/format";
import { Link } from "../shared/Link";
import { locate, noProblems, type Located } from "../shared/problems";
import { adapterLabels, adapters, defaultSettings, sampleOf, type Adapter } from "./samples";

type Source = Schemas["SourceView"];
type Report = Schemas["SourceIngestResult"];

/** A source being created (id null) or changed, as the form holds it. */
interface Draft {
  id: string | null;
  name: string;
  adapter: Adapter;
  settings: string;
  requireSignature: boolean;
  clientCertificate: string;
}

const isAdapter = (a: string): a is Adapter => (adapters as readonly string[]).includes(a);

/**
 * The tenant's sources (banking systems that post documents): list, create and edit (admin), rotate the signing
 * secret (shown once), delete; and a sample document sent to a source in its own format, with the per-item result.
 */
export function SourcesPage({ canEdit, canSend }: { canEdit: boolean; canSend: boolean }) {
  const [sources, setSources] = useState<Source[] | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [draft, setDraft] = useState<Draft | null>(null);
  const [secret, setSecret] = useState<{ label: string; value: string } | null>(null);
  const [confirm, setConfirm] = useState<{ kind: "rotate" | "delete"; source: Source } | null>(null);
  const [sampleFor, setSampleFor] = useState<Source | null>(null);
  const [message, setMessage] = useState<string | null>(null);

  const load = useCallback(async () => {
    const answer = await call<Source[]>("GET", "/v1/sources");
    setSources(answer.data);
    setProblem(answer.data === null ? describe(answer.problem, answer.response) : null);
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  const saved = async (view: Source) => {
    setDraft(null);
    setMessage(`Saved ${view.name}.`);
    if (view.signingSecret) setSecret({ label: `Signing secret of ${view.name}`, value: view.signingSecret });
    await load();
  };

  const act = async () => {
    if (confirm === null) return;
    const { kind, source } = confirm;
    setConfirm(null);
    if (kind === "rotate") {
      const answer = await call<Schemas["SigningSecretView"]>("POST", `/v1/sources/${source.id}/signing-secret`);
      if (answer.data !== null) {
        setSecret({ label: `New signing secret of ${source.name}`, value: answer.data.signingSecret });
        setMessage(`${source.name}: a new signing secret; the old one no longer works.`);
      } else {
        setMessage(describe(answer.problem, answer.response));
      }
    } else {
      const answer = await call<unknown>("DELETE", `/v1/sources/${source.id}`);
      setMessage(answer.response.ok ? `Deleted ${source.name}.` : describe(answer.problem, answer.response));
      if (sampleFor?.id === source.id) setSampleFor(null);
    }
    await load();
  };

  if (problem !== null) return <p className="error" role="alert">{problem}</p>;
  if (sources === null) return <p role="status">Loading…</p>;

  const edit = (s: Source) => setDraft({
    id: s.id, name: s.name, adapter: isAdapter(s.adapter) ? s.adapter : "native", settings: JSON.stringify(s.settings, null, 2),
    requireSignature: s.signatureRequired, clientCertificate: s.clientCertificate ?? "",
  });

  return (
    <section aria-labelledby="sources-title">
      <div className="page-head">
        <h1 id="sources-title">Sources</h1>
        {canEdit && draft === null && (
          <button type="button" onClick={() => setDraft({ id: null, name: "", adapter: "mapped", settings: defaultSettings.mapped, requireSignature: false, clientCertificate: "" })}>
            New source
          </button>
        )}
      </div>
      {message && <p role="status" className="ok">{message}</p>}
      {secret && <SecretOnce label={secret.label} secret={secret.value} onDone={() => setSecret(null)} />}
      {draft && <SourceForm draft={draft} onSaved={(v) => void saved(v)} onCancel={() => setDraft(null)} />}

      <div className="table-scroll">
        <table className="list" aria-label="Sources">
          <thead>
            <tr><th scope="col">Name</th><th scope="col">Adapter</th><th scope="col">Signature</th><th scope="col">Client certificate</th><th scope="col">Updated</th><th scope="col"><span className="visually-hidden">Actions</span></th></tr>
          </thead>
          <tbody>
            {sources.map((s) => (
              <tr key={s.id} aria-current={sampleFor?.id === s.id ? "true" : undefined}>
                <td><strong>{s.name}</strong><br /><code className="hint">{s.id}</code></td>
                <td>{s.adapter}</td>
                <td>{s.signatureRequired ? "required" : "none"}</td>
                <td>{s.clientCertificate ? <code>{s.clientCertificate}</code> : "none"}</td>
                <td>{formatTime(s.updatedAt)}</td>
                <td className="row-actions">
                  {canSend && <button type="button" onClick={() => setSampleFor(s)}>Send a sample<span className="visually-hidden"> to {s.name}</span></button>}
                  {canEdit && <button type="button" className="secondary" onClick={() => edit(s)}>Edit<span className="visually-hidden"> {s.name}</span></button>}
                  {canEdit && s.signatureRequired && <button type="button" className="secondary" onClick={() => setConfirm({ kind: "rotate", source: s })}>Rotate secret<span className="visually-hidden"> of {s.name}</span></button>}
                  {canEdit && <button type="button" className="danger" onClick={() => setConfirm({ kind: "delete", source: s })}>Delete<span className="visually-hidden"> {s.name}</span></button>}
                </td>
              </tr>
            ))}
            {sources.length === 0 && <tr><td colSpan={6}>No sources yet.</td></tr>}
          </tbody>
        </table>
      </div>
      {!canEdit && <p className="hint">Read-only: creating and changing sources needs an admin key.</p>}

      {sampleFor && <SamplePanel key={sampleFor.id} source={sampleFor} onClose={() => setSampleFor(null)} />}

      <ConfirmDialog
        open={confirm !== null}
        title={confirm?.kind === "rotate" ? `Rotate the signing secret of ${confirm.source.name}?` : `Delete ${confirm?.source.name ?? ""}?`}
        confirm={confirm?.kind === "rotate" ? "Rotate secret" : "Delete source"}
        onConfirm={() => void act()}
        onClose={() => setConfirm(null)}>
        {confirm?.kind === "rotate"
          ? <p>The current secret stops working at once: the banking system must sign with the new one, shown here once.</p>
          : <p>Its endpoint answers 404 from then on; notifications it already sent stay.</p>}
      </ConfirmDialog>
    </section>
  );
}

function fieldOf(pointer: string): string | null {
  const top = pointer.split("/")[1] ?? "";
  return ["name", "adapter", "settings", "clientCertificate"].includes(top) ? top : null;
}

function SourceForm({ draft: initial, onSaved, onCancel }: { draft: Draft; onSaved: (view: Source) => void; onCancel: () => void }) {
  const [draft, setDraft] = useState(initial);
  const [problems, setProblems] = useState<Located>(noProblems);
  const set = (change: Partial<Draft>) => setDraft((d) => ({ ...d, ...change }));

  const save = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    let settings: unknown;
    try {
      settings = JSON.parse(draft.settings.trim() === "" ? "{}" : draft.settings);
    } catch (error) {
      setProblems({ summary: "The settings are not JSON; nothing was sent.", byField: new Map([["settings", [{ pointer: "/settings", detail: String(error) }]]]), general: [] });
      return;
    }
    const body = {
      name: draft.name, adapter: draft.adapter, settings, requireSignature: draft.requireSignature,
      clientCertificate: draft.clientCertificate.trim() === "" ? null : draft.clientCertificate.trim(),
    };
    const answer = draft.id === null
      ? await call<Source>("POST", "/v1/sources", body)
      : await call<Source>("PUT", `/v1/sources/${draft.id}`, body);
    if (answer.data !== null) {
      onSaved(answer.data);
    } else {
      setProblems(locate(answer.problem, fieldOf));
    }
  };

  const errors = (field: string) => (problems.byField.get(field) ?? []).map((e) => e.detail);
  const described = (field: string) => (errors(field).length > 0 ? { "aria-invalid": true, "aria-describedby": `source-error-${field}` } : {});
  const errorText = (field: string) => errors(field).length > 0 && (
    <span className="error field-error" id={`source-error-${field}`}>
      {errors(field).length === 1 ? errors(field)[0] : <ul>{errors(field).map((d, i) => <li key={i}>{d}</li>)}</ul>}
    </span>
  );
  // A settings error names its place inside the settings (e.g. /settings/mapping/type/map): the pointer is kept.
  const settingsErrors = problems.byField.get("settings") ?? [];

  return (
    <form className="source-form panel" onSubmit={(e) => void save(e)} aria-label={draft.id === null ? "New source" : `Edit ${initial.name}`} noValidate>
      <h2>{draft.id === null ? "New source" : `Edit ${initial.name}`}</h2>
      {problems.summary && (
        <div className="problems" role="alert">
          <p>{problems.summary}</p>
          {problems.general.length > 0 && <ul>{problems.general.map((g) => <li key={g.pointer}><code>{g.pointer}</code> {g.detail}</li>)}</ul>}
        </div>
      )}
      <div className="fields">
        <div className="field"><label>Name<input value={draft.name} onChange={(e) => set({ name: e.target.value })} {...described("name")} /></label>{errorText("name")}</div>
        <div className="field"><label>Adapter
          <select value={draft.adapter} {...described("adapter")} onChange={(e) => {
            const adapter = e.target.value as Adapter;
            // A new source's settings follow the adapter until they are edited.
            set(draft.settings === defaultSettings[draft.adapter] ? { adapter, settings: defaultSettings[adapter] } : { adapter });
          }}>
            {adapters.map((a) => <option key={a} value={a}>{adapterLabels[a]}</option>)}
          </select>
        </label>{errorText("adapter")}</div>
        <div className="field"><label>Client certificate fingerprint<input value={draft.clientCertificate} placeholder="none" onChange={(e) => set({ clientCertificate: e.target.value })} {...described("clientCertificate")} /></label>{errorText("clientCertificate")}</div>
        <label className="check"><input type="checkbox" checked={draft.requireSignature} onChange={(e) => set({ requireSignature: e.target.checked })} />Require an HMAC signature</label>
      </div>
      <label className="block">Settings (JSON)
        <textarea className="code" rows={12} spellCheck={false} value={draft.settings} onChange={(e) => set({ settings: e.target.value })} {...described("settings")} />
      </label>
      {settingsErrors.length > 0 && (
        <ul className="error field-error" id="source-error-settings">
          {settingsErrors.map((e, i) => <li key={i}>{e.pointer.startsWith("/settings/") ? <code>{e.pointer.slice("/settings".length)}</code> : null} {e.detail}</li>)}
        </ul>
      )}
      <div className="editor-actions">
        <button type="submit">{draft.id === null ? "Create source" : "Save source"}</button>
        <button type="button" className="secondary" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}

/** Sends a document in the source's format (POST /v1/sources/{id}/messages) and shows what became of each item. */
function SamplePanel({ source, onClose }: { source: Source; onClose: () => void }) {
  const adapter: Adapter = isAdapter(source.adapter) ? source.adapter : "native";
  const [sample, setSample] = useState(() => sampleOf(adapter, source.settings, runId()));
  const [report, setReport] = useState<Report | null>(null);
  const [single, setSingle] = useState<{ id: string; status: string; repeat: boolean } | null>(null);
  const [refused, setRefused] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);

  const send = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    setBusy(true);
    const answer = await call<Report | { id: string; status: string }>("POST", `/v1/sources/${source.id}/messages`, sample.body, { "Content-Type": sample.contentType });
    setBusy(false);
    setReport(null);
    setSingle(null);
    setRefused(null);
    if (answer.data === null) {
      setRefused(answer.problem);
    } else if ("items" in answer.data) {
      setReport(answer.data);
    } else {
      setSingle({ ...answer.data, repeat: answer.response.status === 200 });
    }
  };

  return (
    <section className="panel sample" aria-labelledby="sample-title">
      <div className="page-head">
        <h2 id="sample-title">Send a sample to {source.name}</h2>
        <button type="button" className="secondary" onClick={onClose}>Close<span className="visually-hidden"> the sample</span></button>
      </div>
      {source.signatureRequired && (
        <p className="hint">This source requires a signed request, and the console never holds its secret: Herald will refuse the sample (401). Send it from the banking system, or try it on a source without a signature.</p>
      )}
      <form onSubmit={(e) => void send(e)}>
        <label className="block">Document ({sample.contentType})
          <textarea className="code" rows={14} spellCheck={false} value={sample.body} onChange={(e) => setSample({ ...sample, body: e.target.value })} />
        </label>
        <div className="editor-actions">
          <button type="submit" disabled={busy}>Send sample</button>
          <button type="button" className="secondary" onClick={() => setSample(sampleOf(adapter, source.settings, runId()))}>New sample</button>
        </div>
      </form>
      <div aria-live="polite">
        {refused && <SampleRefused problem={refused} />}
        {single && (
          <p className="ok" data-testid="sample-result">
            {single.repeat ? "A repeat of " : "Accepted: "}<Link to={`/notifications/${single.id}`}>notification {single.id}</Link> ({single.status}).
          </p>
        )}
        {report && <SampleReport report={report} />}
      </div>
    </section>
  );
}

function SampleRefused({ problem }: { problem: Problem }) {
  return (
    <div className="problems" role="alert">
      <p>{[problem.title, problem.detail].filter(Boolean).join(" ") || `Refused (${problem.status ?? "no answer"}).`}</p>
      {(problem.errors ?? []).length > 0 && <ul>{(problem.errors ?? []).map((e, i) => <li key={i}><code>{e.pointer}</code> {e.detail}</li>)}</ul>}
    </div>
  );
}

function SampleReport({ report }: { report: Report }) {
  return (
    <div data-testid="sample-result">
      <p><strong>{report.accepted}</strong> accepted, <strong>{report.duplicate}</strong> duplicate, <strong>{report.rejected}</strong> rejected{report.itemsCapped ? " (more rejected than listed)" : ""}.</p>
      <div className="table-scroll">
        <table className="list" aria-label="Items of the sample">
          <thead><tr><th scope="col">Item</th><th scope="col">Outcome</th><th scope="col">Notification or errors</th></tr></thead>
          <tbody>
            {report.items.map((item) => (
              <tr key={item.index} className={`outcome-${item.outcome}`}>
                <td>{item.location}</td>
                <td><span className={`status status-${item.outcome === "rejected" ? "failed" : "delivered"}`}>{item.outcome}</span></td>
                <td className="wrap">
                  {item.id && <Link to={`/notifications/${item.id}`}>{item.id}</Link>}
                  {item.status && <span className="hint"> {item.status}</span>}
                  {item.errors && <ul className="item-errors">{item.errors.map((e, i) => <li key={i}><code>{e.pointer}</code> {e.detail}</li>)}</ul>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p className="hint">{report.note}</p>
    </div>
  );
}

function runId(): string {
  return Date.now().toString(36).toUpperCase();
}
