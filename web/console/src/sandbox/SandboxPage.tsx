import { useCallback, useEffect, useState, type FormEvent } from "react";
import "./sandbox.css";
import { call, describe } from "../api/client";
import { formatTime } from "../shared/format";
import { Link } from "../shared/Link";

// GET /v1/sandbox/messages and /v1/sandbox/controls (src/Herald.Server/SandboxBridge/SandboxBridgeApi.cs) as the page
// reads them: only what the in-process sandbox received through this tenant's own provider accounts.
interface Bubble {
  id: string;
  channel: string;
  providerId: string;
  providerName: string;
  providerMessageId: string;
  time: string;
  text?: string;
  subject?: string;
  template?: { name: string; language?: string; parameters: string[] };
  buttons?: { id: string; title: string }[];
  /** Herald's attempt behind the message, when stored: its notification and state from the vendor's receipts. */
  notificationId?: string;
  state?: string;
}
interface Phone { id: string; address: string; messages: Bubble[] }
interface Controls {
  latencyMs: number;
  accounts: { providerId: string; name: string; channel: string; kind: string; outage: boolean; latencyMs: number }[];
}

/** Latencies offered per account: none, slow, slower than WhatsApp's receipt wait in most set-ups. */
const latencies = [0, 500, 2_000, 5_000, 15_000];

/** Ticks as messengers draw them: one for sent, two for delivered, two coloured for read; a cross for failed. */
const ticks: Record<string, { mark: string; label: string }> = {
  sent: { mark: "✓", label: "sent" },
  delivered: { mark: "✓✓", label: "delivered" },
  read: { mark: "✓✓", label: "read" },
  failed: { mark: "✗", label: "failed" },
};

/** Channels a simulated customer can answer on (the sandbox posts the vendor's inbound webhook). */
const answerable = new Set(["whatsapp", "telegram", "sms"]);

/** Whether the sandbox runs in this process: the bridge answers 404 everywhere else, and the nav hides the page. */
export function useSandboxAvailable(session: object | null): boolean {
  const [available, setAvailable] = useState(false);
  useEffect(() => {
    setAvailable(false);
    // Asked once per session: before sign-in the answer would be a 401.
    if (session !== null) void call<Controls>("GET", "/v1/sandbox/controls").then((a) => setAvailable(a.response.ok));
  }, [session]);
  return available;
}

/** A phone per simulated customer with what arrived on each channel as chat bubbles; outages and latency. */
export function SandboxPage({ canControl, canReply }: { canControl: boolean; canReply: boolean }) {
  const [phones, setPhones] = useState<Phone[] | null>(null);
  const [controls, setControls] = useState<Controls | null>(null);
  const [latency, setLatency] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);

  const load = useCallback(async () => {
    const [messages, state] = await Promise.all([
      call<{ phones: Phone[] }>("GET", "/v1/sandbox/messages"),
      call<Controls>("GET", "/v1/sandbox/controls"),
    ]);
    if (messages.data === null) {
      setProblem(describe(messages.problem, messages.response));
      return;
    }
    setProblem(null);
    setPhones(messages.data.phones);
    if (state.data !== null) {
      setControls(state.data);
      setLatency((current) => (current === "" ? String(state.data!.latencyMs) : current));
    }
  }, []);

  useEffect(() => {
    void load();
    const timer = window.setInterval(() => void load(), 2_000);
    return () => window.clearInterval(timer);
  }, [load]);

  const toggle = async (account: Controls["accounts"][number]) => {
    // The switch follows the click at once (as a switch should); the server's answer then confirms or undoes it.
    setControls((c) => c && { ...c, accounts: c.accounts.map((x) => (x.providerId === account.providerId ? { ...x, outage: !account.outage } : x)) });
    const answer = await call<Controls>(account.outage ? "DELETE" : "PUT", `/v1/sandbox/outages/${account.providerId}`);
    if (answer.data !== null) setControls(answer.data);
    else void load();
    setMessage(answer.response.ok
      ? `${account.name}: ${account.outage ? "back up" : "out; its sends fail as in a vendor outage, so routes fall back"}.`
      : describe(answer.problem, answer.response));
  };

  const slow = async (account: Controls["accounts"][number], latencyMs: number) => {
    const answer = await call<Controls>("PUT", `/v1/sandbox/latency/${account.providerId}`, { latencyMs });
    if (answer.data !== null) setControls(answer.data);
    setMessage(answer.response.ok
      ? `${account.name}: ${latencyMs === 0 ? "no added latency" : `${latencyMs} ms added to its sends`}.`
      : describe(answer.problem, answer.response));
  };

  const setLatencyMs = async (event: FormEvent) => {
    event.preventDefault();
    const answer = await call<Controls>("PUT", "/v1/sandbox/latency", { latencyMs: Number(latency) });
    if (answer.data !== null) setControls(answer.data);
    setMessage(answer.response.ok
      ? `Latency ${answer.data?.latencyMs ?? latency} ms on every simulated vendor answer.`
      : (answer.problem?.errors ?? []).map((e) => e.detail).join(" ") || describe(answer.problem, answer.response));
  };

  const reply = async (bubble: Bubble, answer: { text?: string; actionId?: string }) => {
    const sent = await call<{ heraldStatus: number }>("POST", "/v1/sandbox/replies", { messageId: bubble.id, ...answer });
    setMessage(sent.response.ok
      ? `Answered ${bubble.channel} message: Herald said ${sent.data?.heraldStatus ?? "?"}.`
      : describe(sent.problem, sent.response));
  };

  if (problem !== null) return <p className="error" role="alert">{problem}</p>;
  if (phones === null) return <p role="status">Loading…</p>;

  return (
    <section aria-labelledby="sandbox-title">
      <div className="page-head"><h1 id="sandbox-title">Sandbox</h1><span className="hint">refreshes every 2 s</span></div>
      {message && <p role="status" className="ok">{message}</p>}

      {controls && (
        <div className="sandbox-controls">
          <fieldset>
            <legend>Outages and latency per account (yours only)</legend>
            {controls.accounts.length === 0 && <p className="hint">No sandbox accounts.</p>}
            {controls.accounts.map((a) => (
              <span key={a.providerId} className="account-control">
                <label className="switch">
                  <input type="checkbox" role="switch" checked={a.outage} disabled={!canControl} onChange={() => void toggle(a)}
                    aria-label={`Outage ${a.name}`} />
                  <span>{a.name} <span className="hint">{a.channel}</span></span>
                </label>
                <select aria-label={`Latency ${a.name}`} value={a.latencyMs} disabled={!canControl}
                  onChange={(e) => void slow(a, Number(e.target.value))}>
                  {[...new Set([...latencies, a.latencyMs])].sort((x, y) => x - y).map((ms) => (
                    <option key={ms} value={ms}>{ms === 0 ? "+0 ms" : `+${ms} ms`}</option>
                  ))}
                </select>
              </span>
            ))}
          </fieldset>
          <form onSubmit={(e) => void setLatencyMs(e)} className="latency">
            <label className="block">Sandbox-wide latency (ms, every tenant)
              <input type="number" min={0} max={30000} step={50} value={latency} disabled={!canControl}
                onChange={(e) => setLatency(e.target.value)} />
            </label>
            <button type="submit" className="secondary" disabled={!canControl}>Set latency</button>
          </form>
          {!canControl && <p className="hint">Outages and latency need an admin key.</p>}
        </div>
      )}

      {phones.length === 0 && <p>Nothing sent through this tenant's sandbox accounts yet. Send a notification and watch it arrive here.</p>}
      <div className="phones">
        {phones.map((phone) => (
          <PhoneView key={phone.id} phone={phone} canReply={canReply} onReply={reply} />
        ))}
      </div>
    </section>
  );
}

function PhoneView({ phone, canReply, onReply }: {
  phone: Phone;
  canReply: boolean;
  onReply: (bubble: Bubble, answer: { text?: string; actionId?: string }) => Promise<void>;
}) {
  const [text, setText] = useState("");
  // A typed answer goes to the newest message on a channel the customer can answer on.
  const last = [...phone.messages].reverse().find((m) => answerable.has(m.channel));
  const send = async (event: FormEvent) => {
    event.preventDefault();
    if (last === undefined || text.trim() === "") return;
    await onReply(last, { text: text.trim() });
    setText("");
  };

  return (
    <article className="phone" aria-label={`Phone ${phone.address}`} data-testid={`phone-${phone.address}`}>
      <header className="phone-head">{phone.address}</header>
      <ol className="phone-screen" aria-label={`Messages to ${phone.address}`}>
        {phone.messages.map((m) => (
          <li key={m.id} className={`bubble bubble-${m.channel}`} data-testid="bubble" data-channel={m.channel}>
            <span className="bubble-channel">{m.channel} · {m.providerName}</span>
            {m.subject && <strong>{m.subject}</strong>}
            {m.text && <span>{m.text}</span>}
            {m.template && <span>Template {m.template.name}{m.template.parameters.length > 0 ? `: ${m.template.parameters.join(", ")}` : ""}</span>}
            {m.buttons && m.buttons.length > 0 && (
              <span className="bubble-buttons">
                {m.buttons.map((b) => (
                  <button key={b.id} type="button" className="secondary" disabled={!canReply}
                    onClick={() => void onReply(m, { actionId: b.id })}>{b.title}</button>
                ))}
              </span>
            )}
            <span className="bubble-foot">
              {m.notificationId && <Link to={`/notifications/${m.notificationId}`}>Trace<span className="visually-hidden"> of the {m.channel} message</span></Link>}
              <time dateTime={m.time}>{formatTime(m.time)}</time>
              {m.state && ticks[m.state] && (
                <span className={`ticks ticks-${m.state}`} role="img" aria-label={ticks[m.state]!.label} title={ticks[m.state]!.label} data-testid="ticks">
                  {ticks[m.state]!.mark}
                </span>
              )}
            </span>
          </li>
        ))}
      </ol>
      {canReply && last !== undefined && (
        <form className="phone-reply" onSubmit={(e) => void send(e)}>
          <label className="visually-hidden" htmlFor={`reply-${phone.id}`}>Answer as {phone.address} on {last.channel}</label>
          <input id={`reply-${phone.id}`} value={text} onChange={(e) => setText(e.target.value)} placeholder={`Answer on ${last.channel}`} />
          <button type="submit">Send<span className="visually-hidden"> answer as {phone.address}</span></button>
        </form>
      )}
    </article>
  );
}
