import { useCallback, useEffect, useMemo, useState } from "react";
import { call, describe, type Problem } from "../api/client";
import { formatTime } from "../shared/format";
import { Editor, type Mark } from "../shared/LazyEditor";

// The answers of /v1/templates (TemplatesApi.cs, TemplatePreviewApi.cs) as the console reads them.
interface TemplateView {
  id: string;
  name: string;
  channel: string;
  language?: string;
  subject?: string;
  body: string;
  html?: string;
  whatsApp?: { name: string; language: string; parameters?: string[] };
  version: number;
  updatedAt: string;
}
interface PartUse { part: string; used: number; max: number; unit: string; segments?: number }
interface Preview { channel: string; text: string; subject?: string; html?: string; whatsAppParameters?: string[]; parts: PartUse[] }

const channels = ["whatsapp", "telegram", "sms", "email", "push"] as const;

interface Draft {
  id: string | null;
  name: string;
  channel: string;
  language: string;
  subject: string;
  body: string;
  html: string;
}

const blank: Draft = {
  id: null,
  name: "card.transaction",
  channel: "sms",
  language: "",
  subject: "",
  body: "Hi {{ customer.name }}, {{ data.amount | money: data.currency }} at {{ data.merchant }}. Not you? Call us.",
  html: "",
};

const sampleData = { amount: 129.5, currency: "EUR", merchant: "Example Shop", card: "4111111111111234" };

function toDraft(t: TemplateView): Draft {
  return { id: t.id, name: t.name, channel: t.channel, language: t.language ?? "", subject: t.subject ?? "", body: t.body, html: t.html ?? "" };
}

/** The template as POST /v1/templates and the preview take it: empty optional parts left out. */
function toBody(d: Draft, whatsApp: TemplateView["whatsApp"]) {
  return {
    name: d.name,
    channel: d.channel,
    ...(d.language.trim() ? { language: d.language.trim() } : {}),
    ...(d.channel === "email" && d.subject ? { subject: d.subject } : {}),
    ...(d.channel === "email" && d.html ? { html: d.html } : {}),
    ...(d.body ? { body: d.body } : {}),
    ...(d.channel === "whatsapp" && whatsApp ? { whatsApp } : {}),
  };
}

/** A Liquid error's place in its part ("Liquid error (line 2, column 18): …") as a range of that part's text. */
function liquidMarks(text: string, errors: { pointer: string; detail: string }[], part: string): Mark[] {
  return errors
    .filter((e) => e.pointer === `/template/${part}` || e.pointer === `/${part}`)
    .map((e) => {
      const m = /line (\d+), column (\d+)/.exec(e.detail);
      if (m === null) return { from: 0, to: text.length, message: e.detail };
      const lines = text.split("\n");
      const line = Math.min(Number(m[1]), lines.length);
      let from = 0;
      for (let i = 0; i < line - 1; i++) from += lines[i]!.length + 1;
      from += Math.max(0, Number(m[2]) - 1);
      // At the very end (an unclosed tag): mark the last character, an empty range shows nothing.
      from = Math.max(0, Math.min(from, text.length - 1));
      return { from, to: Math.min(from + 1, text.length), message: e.detail };
    });
}

/** Templates: the list, an editor, and a live preview per channel and language with the channel's limits. */
export function TemplatesPage({ canEdit }: { canEdit: boolean }) {
  const [templates, setTemplates] = useState<TemplateView[]>([]);
  const [draft, setDraft] = useState<Draft>(blank);
  const [whatsApp, setWhatsApp] = useState<TemplateView["whatsApp"]>(undefined);
  const [type, setType] = useState("card.transaction");
  const [data, setData] = useState(JSON.stringify(sampleData, null, 2));
  const [customerName, setCustomerName] = useState("Ana");
  const [preview, setPreview] = useState<Preview | null>(null);
  const [previewErrors, setPreviewErrors] = useState<{ pointer: string; detail: string }[]>([]);
  const [previewProblem, setPreviewProblem] = useState<string | null>(null);
  const [saveErrors, setSaveErrors] = useState<{ pointer: string; detail: string }[]>([]);
  const [message, setMessage] = useState<string | null>(null);

  const load = useCallback(async () => {
    const answer = await call<TemplateView[]>("GET", "/v1/templates");
    setTemplates(answer.data ?? []);
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  // The live preview: rendered by Herald (the same renderer and limits as delivery) a moment after the last keystroke.
  useEffect(() => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch (e) {
      setPreviewProblem(`The sample data is not JSON: ${(e as Error).message}`);
      return;
    }
    // An answer to an older text (the machine was slow) must not replace the newer one's.
    let stale = false;
    const timer = window.setTimeout(async () => {
      const answer = await call<Preview>("POST", "/v1/templates/preview", {
        template: toBody(draft, whatsApp),
        type: type || draft.name,
        data: parsed,
        ...(customerName ? { customer: { name: customerName } } : {}),
      });
      if (stale) return;
      if (answer.data !== null) {
        setPreview(answer.data);
        setPreviewErrors([]);
        setPreviewProblem(null);
      } else {
        setPreview(null);
        setPreviewErrors(answer.problem?.errors ?? []);
        setPreviewProblem(describe(answer.problem, answer.response));
      }
    }, 350);
    return () => {
      stale = true;
      window.clearTimeout(timer);
    };
  }, [draft, whatsApp, type, data, customerName]);

  const errors = saveErrors.length > 0 ? saveErrors : previewErrors;
  const bodyMarks = useMemo(() => liquidMarks(draft.body, errors, "body"), [draft.body, errors]);
  const htmlMarks = useMemo(() => liquidMarks(draft.html, errors, "html"), [draft.html, errors]);
  const fieldError = (part: string) => errors.filter((e) => e.pointer === `/template/${part}` || e.pointer === `/${part}`).map((e) => e.detail).join(" ");

  const change = (patch: Partial<Draft>) => {
    setDraft((d) => ({ ...d, ...patch }));
    setSaveErrors([]);
    setMessage(null);
  };

  const open = (t: TemplateView) => {
    setDraft(toDraft(t));
    setWhatsApp(t.whatsApp);
    setType(t.name);
    setSaveErrors([]);
    setMessage(null);
  };

  const save = async () => {
    const answer = await call<TemplateView>("POST", "/v1/templates", toBody(draft, whatsApp));
    if (answer.data === null) {
      setSaveErrors(answer.problem?.errors ?? [{ pointer: "/", detail: describe(answer.problem, answer.response) }]);
      setMessage(null);
      return;
    }
    setDraft(toDraft(answer.data));
    setMessage(`Saved: ${answer.data.name} (${answer.data.channel}${answer.data.language ? `, ${answer.data.language}` : ""}) version ${answer.data.version}.`);
    await load();
  };

  const remove = async () => {
    if (draft.id === null) return;
    const answer = await call<unknown>("DELETE", `/v1/templates/${draft.id}`);
    if (!answer.response.ok) {
      setMessage(describe(answer.problem as Problem, answer.response));
      return;
    }
    setMessage(`Deleted ${draft.name} (${draft.channel}).`);
    setDraft({ ...draft, id: null });
    await load();
  };

  return (
    <section aria-labelledby="templates-title">
      <div className="page-head">
        <h1 id="templates-title">Templates</h1>
        {canEdit && <button type="button" className="secondary" onClick={() => { setDraft(blank); setWhatsApp(undefined); setMessage(null); }}>New template</button>}
      </div>
      {!canEdit && <p className="hint">Read-only: changing templates needs a key with the <code>admin</code> role. The preview works with any key.</p>}

      {templates.length === 0 ? <p>No templates yet: every channel sends the default text.</p> : (
        <div className="table-scroll">
          <table aria-label="Templates">
            <thead><tr><th scope="col">Name</th><th scope="col">Channel</th><th scope="col">Language</th><th scope="col">Version</th><th scope="col">Updated</th><th scope="col"><span className="visually-hidden">Open</span></th></tr></thead>
            <tbody>
              {templates.map((t) => (
                <tr key={t.id} aria-current={draft.id === t.id ? "true" : undefined}>
                  <td><code>{t.name}</code></td><td>{t.channel}</td><td>{t.language ?? "default"}</td><td>{t.version}</td><td>{formatTime(t.updatedAt)}</td>
                  <td><button type="button" className="secondary" onClick={() => open(t)}>Open<span className="visually-hidden"> {t.name} {t.channel} {t.language ?? "default"}</span></button></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <div className="rules-grid template-grid">
        <form className="template-form" onSubmit={(e) => { e.preventDefault(); void save(); }} aria-label="Template">
          <h2>{draft.id ? `Edit ${draft.name}` : "New template"}</h2>
          <div className="fields">
            <label>Name <input value={draft.name} onChange={(e) => change({ name: e.target.value })} readOnly={!canEdit} aria-invalid={fieldError("name") ? true : undefined} /></label>
            <label>Channel
              <select value={draft.channel} onChange={(e) => change({ channel: e.target.value })} disabled={!canEdit}>
                {channels.map((c) => <option key={c} value={c}>{c}</option>)}
              </select>
            </label>
            <label>Language <input value={draft.language} onChange={(e) => change({ language: e.target.value })} placeholder="default" readOnly={!canEdit} /></label>
          </div>
          {fieldError("name") && <p className="error">{fieldError("name")}</p>}
          {fieldError("language") && <p className="error">{fieldError("language")}</p>}
          {draft.channel === "email" && (
            <label className="block">Subject <input value={draft.subject} onChange={(e) => change({ subject: e.target.value })} readOnly={!canEdit} /></label>
          )}
          {fieldError("subject") && <p className="error">{fieldError("subject")}</p>}
          <p className="field-label">Body (Liquid)</p>
          <Editor value={draft.body} onChange={(body) => change({ body })} readOnly={!canEdit} marks={bodyMarks} label="Body" language="text" minHeight="8rem" />
          {fieldError("body") && <p className="error" role="alert">{fieldError("body")}</p>}
          {draft.channel === "email" && (
            <>
              <p className="field-label">HTML part (optional; values are HTML-encoded)</p>
              <Editor value={draft.html} onChange={(html) => change({ html })} readOnly={!canEdit} marks={htmlMarks} label="HTML part" language="text" minHeight="6rem" />
              {fieldError("html") && <p className="error">{fieldError("html")}</p>}
            </>
          )}
          {draft.channel === "whatsapp" && whatsApp && (
            <p className="hint">Sent as the approved WhatsApp template <code>{whatsApp.name}</code> ({whatsApp.language}) with {whatsApp.parameters?.length ?? 0} parameter(s).</p>
          )}
          {saveErrors.length > 0 && (
            <ul className="error" aria-label="Template errors">{saveErrors.map((e, i) => <li key={i}><code>{e.pointer}</code>: {e.detail}</li>)}</ul>
          )}
          {canEdit && (
            <div className="editor-actions">
              <button type="submit">Save template</button>
              {draft.id && <button type="button" className="danger" onClick={() => void remove()}>Delete</button>}
            </div>
          )}
          {message && <p role="status" className="ok">{message}</p>}
        </form>

        <div className="template-preview">
          <h2>Preview</h2>
          <div className="fields">
            <label>Type <input value={type} onChange={(e) => setType(e.target.value)} /></label>
            <label>Customer name <input value={customerName} onChange={(e) => setCustomerName(e.target.value)} /></label>
          </div>
          <p className="field-label">Sample data (JSON)</p>
          <Editor value={data} onChange={setData} label="Sample data" minHeight="6rem" />
          <section aria-label="Rendered message" aria-live="polite" className="rendered">
            {previewProblem && <p className="error" role="alert">{previewProblem}{previewErrors.length > 0 ? ` ${previewErrors.map((e) => `${e.pointer}: ${e.detail}`).join(" ")}` : ""}</p>}
            {preview && (
              <>
                <div className={`bubble bubble-${preview.channel}`} data-testid="preview">
                  <span className="bubble-channel">{preview.channel}{draft.language ? ` · ${draft.language}` : ""}</span>
                  {preview.subject && <strong className="bubble-subject">{preview.subject}</strong>}
                  <span className="bubble-text">{preview.text}</span>
                  {preview.whatsAppParameters && <span className="hint">Parameters: {preview.whatsAppParameters.join(" | ")}</span>}
                </div>
                <table aria-label="Size against the channel's limits" className="limits">
                  <thead><tr><th scope="col">Part</th><th scope="col">Size</th><th scope="col">Limit</th></tr></thead>
                  <tbody>
                    {preview.parts.map((p) => (
                      <tr key={p.part}>
                        <td>{p.part}</td>
                        <td data-testid={`size-${p.part}`}>
                          <meter min={0} max={p.max} value={p.used} aria-label={`${p.part} size`} /> {p.used.toLocaleString()}
                          {p.segments !== undefined && ` · ${p.segments} SMS segment${p.segments === 1 ? "" : "s"}`}
                        </td>
                        <td>{p.max.toLocaleString()} {p.unit}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </>
            )}
          </section>
        </div>
      </div>
    </section>
  );
}
