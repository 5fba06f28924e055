import { useState, type FormEvent, type ReactNode } from "react";
import { call, type Schemas } from "../api/client";
import { locate, noProblems, type Located } from "../shared/problems";

type Customer = Schemas["CustomerView"];
const channels = ["whatsapp", "telegram", "sms", "email", "push"] as const;
const contactFields = [
  ["phone", "Phone (E.164)"],
  ["telegramChatId", "Telegram chat id"],
  ["email", "E-mail"],
  ["pushToken", "Push token"],
] as const;
const preferenceFields = [
  ["language", "Language (BCP 47)"],
  ["timeZone", "Time zone (IANA)"],
] as const;
type Text = (typeof contactFields)[number][0] | (typeof preferenceFields)[number][0];

interface Draft extends Record<Text, string> {
  preferredChannel: string;
  quietStart: string;
  quietEnd: string;
  optOuts: { channel: string; type: string }[];
  attributes: string;
}

function draftOf(c: Customer | null): Draft {
  return {
    phone: c?.phone ?? "", telegramChatId: c?.telegramChatId ?? "", email: c?.email ?? "", pushToken: c?.pushToken ?? "",
    language: c?.language ?? "", timeZone: c?.timeZone ?? "", preferredChannel: c?.preferredChannel ?? "",
    quietStart: c?.quietHours?.start ?? "", quietEnd: c?.quietHours?.end ?? "",
    optOuts: (c?.optOuts ?? []).map((o) => ({ channel: o.channel ?? "", type: o.type ?? "" })),
    attributes: Object.entries(c?.attributes ?? {}).map(([k, v]) => `${k}=${v}`).join("\n"),
  };
}

/** The PUT body: empty fields are left out (the customer has none), so the stored customer is exactly the form. */
function bodyOf(d: Draft): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [name] of [...contactFields, ...preferenceFields]) {
    if (d[name].trim() !== "") body[name] = d[name].trim();
  }
  if (d.preferredChannel !== "") body.preferredChannel = d.preferredChannel;
  if (d.quietStart !== "" || d.quietEnd !== "") body.quietHours = { start: d.quietStart || null, end: d.quietEnd || null };
  if (d.optOuts.length > 0) body.optOuts = d.optOuts.map((o) => ({ channel: o.channel || null, type: o.type.trim() || null }));
  const attributes = d.attributes.split("\n").map((l) => l.trim()).filter((l) => l.length > 0);
  if (attributes.length > 0) {
    body.attributes = Object.fromEntries(attributes.map((l) => {
      const at = l.indexOf("=");
      return at < 0 ? [l, ""] : [l.slice(0, at).trim(), l.slice(at + 1).trim()];
    }));
  }
  return body;
}

/** Which field of the form a located error belongs to. */
function fieldOf(pointer: string): string | null {
  const parts = pointer.split("/");
  const top = parts[1] ?? "";
  if (top === "optOuts") return parts[2] === undefined ? "optOuts" : `optOuts/${parts[2]}`;
  if (top === "quietHours") return "quietHours";
  if (top === "attributes") return "attributes";
  return [...contactFields, ...preferenceFields].some(([name]) => name === top) || top === "preferredChannel" ? top : null;
}

/** Creates or replaces a stored customer (PUT /v1/customers/{id}); a refused save shows each error at its field. */
export function CustomerForm({ id, customer, onSaved, onCancel }: {
  id: string;
  customer: Customer | null;
  onSaved: (view: Customer) => void;
  onCancel: () => void;
}) {
  const [draft, setDraft] = useState<Draft>(() => draftOf(customer));
  const [problems, setProblems] = useState<Located>(noProblems);
  const [busy, setBusy] = useState(false);
  const set = (change: Partial<Draft>) => setDraft((d) => ({ ...d, ...change }));

  const save = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    setBusy(true);
    const answer = await call<Customer>("PUT", `/v1/customers/${encodeURIComponent(id)}`, bodyOf(draft));
    setBusy(false);
    if (answer.data !== null) {
      setProblems(noProblems);
      onSaved(answer.data);
    } else {
      setProblems(locate(answer.problem, fieldOf));
    }
  };

  const errorsOf = (field: string) => (problems.byField.get(field) ?? []).map((e) => e.detail);
  const described = (field: string) => (errorsOf(field).length > 0 ? { "aria-invalid": true, "aria-describedby": `error-${field.replace("/", "-")}` } : {});
  const errorText = (field: string): ReactNode => errorsOf(field).length > 0 && (
    <span className="error field-error" id={`error-${field.replace("/", "-")}`}>{errorsOf(field).join(" ")}</span>
  );
  const text = (name: Text, label: string) => (
    <div className="field" key={name}>
      <label>{label}<input value={draft[name]} onChange={(e) => set({ [name]: e.target.value })} autoComplete="off" {...described(name)} /></label>
      {errorText(name)}
    </div>
  );

  return (
    <form className="customer-form" onSubmit={(e) => void save(e)} aria-label="Edit customer" noValidate>
      {problems.summary && (
        <div className="problems" role="alert">
          <p>{problems.summary}</p>
          {problems.general.length > 0 && <ul>{problems.general.map((g) => <li key={g.pointer}><code>{g.pointer}</code> {g.detail}</li>)}</ul>}
        </div>
      )}
      <fieldset>
        <legend>Contacts</legend>
        <div className="fields">{contactFields.map(([name, label]) => text(name, label))}</div>
      </fieldset>
      <fieldset>
        <legend>Preferences</legend>
        <div className="fields">
          {preferenceFields.map(([name, label]) => text(name, label))}
          <div className="field">
            <label>Preferred channel
              <select value={draft.preferredChannel} onChange={(e) => set({ preferredChannel: e.target.value })} {...described("preferredChannel")}>
                <option value="">none (the rules decide)</option>
                {channels.map((c) => <option key={c} value={c}>{c}</option>)}
              </select>
            </label>
            {errorText("preferredChannel")}
          </div>
          <label>Quiet hours from<input type="time" value={draft.quietStart} onChange={(e) => set({ quietStart: e.target.value })} {...described("quietHours")} /></label>
          <div className="field">
            <label>Quiet hours until<input type="time" value={draft.quietEnd} onChange={(e) => set({ quietEnd: e.target.value })} {...described("quietHours")} /></label>
            {errorText("quietHours")}
          </div>
        </div>
      </fieldset>
      <fieldset>
        <legend>Opt-outs</legend>
        {errorText("optOuts")}
        {draft.optOuts.map((o, i) => (
          <div className="fields" key={i} role="group" aria-label={`Opt-out ${i + 1}`}>
            <label>Channel
              <select value={o.channel} onChange={(e) => set({ optOuts: draft.optOuts.map((x, j) => (j === i ? { ...x, channel: e.target.value } : x)) })} {...described(`optOuts/${i}`)}>
                <option value="">every channel</option>
                {channels.map((c) => <option key={c} value={c}>{c}</option>)}
              </select>
            </label>
            <div className="field">
              <label>Type
                <input value={o.type} placeholder="every type" onChange={(e) => set({ optOuts: draft.optOuts.map((x, j) => (j === i ? { ...x, type: e.target.value } : x)) })} {...described(`optOuts/${i}`)} />
              </label>
              {errorText(`optOuts/${i}`)}
            </div>
            <div className="actions">
              <button type="button" className="secondary" onClick={() => set({ optOuts: draft.optOuts.filter((_, j) => j !== i) })}>Remove<span className="visually-hidden"> opt-out {i + 1}</span></button>
            </div>
          </div>
        ))}
        <button type="button" className="secondary" onClick={() => set({ optOuts: [...draft.optOuts, { channel: "", type: "" }] })}>Add opt-out</button>
      </fieldset>
      <div className="field">
        <label className="block">Attributes (one <code>name=value</code> a line)
          <textarea rows={3} value={draft.attributes} onChange={(e) => set({ attributes: e.target.value })} {...described("attributes")} />
        </label>
        {errorText("attributes")}
      </div>
      <div className="editor-actions">
        <button type="submit" disabled={busy}>Save customer</button>
        <button type="button" className="secondary" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}
