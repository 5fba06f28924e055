import { useCallback, useEffect, useMemo, useState } from "react";
import { api, call, describe, type Problem } from "../api/client";
import { diffLines, type DiffLine } from "../shared/diff";
import { formatTime } from "../shared/format";
import { Editor, type Mark } from "../shared/LazyEditor";
import { locate } from "./locate";

// The answers of /v1/rules (RuleViews.cs), which Herald's OpenAPI document does not declare yet.
interface RuleSetView {
  version: number;
  document: unknown;
  author?: string;
  createdAt?: string;
  comment?: string;
  rolledBackFrom?: number;
}
interface Changes { added: string[]; removed: string[]; changed: string[] }
interface VersionView {
  version: number;
  author: string;
  createdAt: string;
  comment?: string;
  rolledBackFrom?: number;
  ruleCount: number;
  changes: Changes;
}
interface RuleError { pointer: string; detail: string; ruleIndex?: number; ruleName?: string; position?: number }
interface TestView {
  ruleSetVersion?: number;
  draft: boolean;
  matchedRules: string[];
  errors: { ruleIndex: number; ruleName: string; message: string }[];
  route: { priority: string; steps: { channel: string; waitFor: string; timeout: string }[]; costPolicy?: string; quietHours?: string; tags?: string[] };
  decision: { suppress: boolean; delay?: string; ttl?: string; decidedBy: Record<string, string>; mask: string[] };
  status: string;
  messages: { step: number; channel: string; template?: string; text: string; subject?: string }[];
}

const sampleNotification = {
  type: "fraud.alert",
  priority: "high",
  customer: { phone: "+4915112345678" },
  data: { amount: 129.5, currency: "EUR", merchant: { name: "Example Shop", country: "US" } },
};

const pretty = (value: unknown) => JSON.stringify(value, null, 2);

/** The rule set: edit with located errors, dry run draft against current, version history with a diff, rollback. */
export function RulesPage({ canEdit }: { canEdit: boolean }) {
  const [current, setCurrent] = useState<RuleSetView | null>(null);
  const [draft, setDraft] = useState("");
  const [comment, setComment] = useState("");
  const [errors, setErrors] = useState<RuleError[]>([]);
  const [message, setMessage] = useState<string | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [historyKey, setHistoryKey] = useState(0);

  const load = useCallback(async () => {
    const answer = await call<RuleSetView>("GET", "/v1/rules");
    if (answer.data === null) {
      setFailure(describe(answer.problem, answer.response));
      return;
    }
    setCurrent(answer.data);
    setDraft(pretty(answer.data.document));
    setErrors([]);
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  const marks = useMemo<Mark[]>(
    () => errors.map((e) => ({ ...locate(draft, e.pointer, e.position), message: e.detail })),
    // Marks are placed on the text they were reported for; editing clears them (below).
    [errors],
  );

  const edit = (text: string) => {
    setDraft(text);
    if (errors.length > 0) setErrors([]);
    setMessage(null);
  };

  const save = async () => {
    if (current === null) return;
    setBusy(true);
    setMessage(null);
    const query = comment.trim().length > 0 ? `?comment=${encodeURIComponent(comment.trim())}` : "";
    const answer = await call<RuleSetView>("PUT", `/v1/rules${query}`, draft, { "If-Match": `"${current.version}"` });
    setBusy(false);
    if (answer.data !== null) {
      setCurrent(answer.data);
      setDraft(pretty(answer.data.document));
      setErrors([]);
      setComment("");
      setMessage(`Saved as version ${answer.data.version}.`);
      setHistoryKey((k) => k + 1);
      return;
    }
    const located = (answer.problem?.errors ?? []) as RuleError[];
    setErrors(located.length > 0 ? located : [{ pointer: "", detail: describe(answer.problem, answer.response) }]);
  };

  const rolledBack = (view: RuleSetView) => {
    setCurrent(view);
    setDraft(pretty(view.document));
    setErrors([]);
    setMessage(`Rolled back: version ${view.version} is version ${view.rolledBackFrom ?? "?"}'s rules.`);
    setHistoryKey((k) => k + 1);
  };

  if (failure !== null) return <p className="error" role="alert">{failure}</p>;
  if (current === null) return <p role="status">Loading…</p>;

  const dirty = draft !== pretty(current.document);
  return (
    <section aria-labelledby="rules-title">
      <div className="page-head">
        <h1 id="rules-title">Rules</h1>
        <span className="hint" data-testid="rules-version">
          {current.version === 0 ? "No rule set stored yet (version 0): the default route applies."
            : `Version ${current.version}${current.author ? ` by ${current.author}` : ""}${current.createdAt ? `, ${formatTime(current.createdAt)}` : ""}${current.comment ? ` — ${current.comment}` : ""}`}
        </span>
      </div>
      {!canEdit && <p className="hint">Read-only: changing the rules needs a key with the <code>admin</code> role. The dry run works with any key.</p>}

      <div className="rules-grid">
        <div className="rules-editor">
          <Editor value={draft} onChange={edit} readOnly={!canEdit} marks={marks} label="Rule set" minHeight="22rem" />
          {errors.length > 0 && (
            <div role="alert" className="problems">
              <p className="error">The rule set is not valid; nothing was saved and version {current.version} stays in use.</p>
              <ul aria-label="Rule set errors">
                {errors.map((e, i) => (
                  <li key={i}>
                    <code>{e.pointer || "/"}</code>{e.ruleName ? ` (rule “${e.ruleName}”)` : ""}{e.position !== undefined && e.position !== null ? ` at character ${e.position}` : ""}: {e.detail}
                  </li>
                ))}
              </ul>
            </div>
          )}
          {canEdit && (
            <div className="editor-actions">
              <label className="inline">Comment <input value={comment} onChange={(e) => setComment(e.target.value)} maxLength={500} /></label>
              <button type="button" onClick={() => void save()} disabled={busy || !dirty}>Save</button>
              <button type="button" className="secondary" onClick={() => edit(pretty(current.document))} disabled={!dirty}>Discard changes</button>
            </div>
          )}
          {message && <p role="status" className="ok">{message}</p>}
        </div>
        <DryRun draft={draft} dirty={dirty} currentVersion={current.version} />
      </div>

      <History key={historyKey} current={current.version} canEdit={canEdit} onRolledBack={rolledBack} />
    </section>
  );
}

/** The dry run: one notification (a sample, or rebuilt from a past one) through the draft and the current version. */
function DryRun({ draft, dirty, currentVersion }: { draft: string; dirty: boolean; currentVersion: number }) {
  const [sample, setSample] = useState(pretty(sampleNotification));
  const [pastId, setPastId] = useState("");
  const [results, setResults] = useState<{ draft: TestView | string; current: TestView | string } | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  // A new current version (saved, rolled back) makes the last comparison stale.
  useEffect(() => setResults(null), [currentVersion]);

  const fromPast = async () => {
    const id = pastId.trim();
    if (id.length === 0) return;
    const found = await api.GET("/v1/notifications/{id}", { params: { path: { id } } });
    if (!found.data) {
      setNote(describe(found.error, found.response));
      return;
    }
    const n = found.data;
    // The notification view carries no data or contacts (they may be masked or encrypted at rest): the sample keeps
    // the type, priority and customer, and the data of the sample already in the field.
    let data: unknown = {};
    try {
      data = (JSON.parse(sample) as { data?: unknown }).data ?? {};
    } catch {
      data = {};
    }
    setSample(pretty({ type: n.type, priority: n.priority, ...(n.customerId ? { customer: { id: n.customerId } } : { customer: sampleNotification.customer }), data }));
    setNote(`Rebuilt from notification ${n.id} (${n.type}); its data is not shown by the API, so the data is the sample's.`);
  };

  const run = async () => {
    let notification: unknown;
    try {
      notification = JSON.parse(sample);
    } catch (e) {
      setNote(`The sample is not JSON: ${(e as Error).message}`);
      return;
    }
    let draftDocument: unknown;
    try {
      draftDocument = JSON.parse(draft);
    } catch (e) {
      setNote(`The draft is not JSON: ${(e as Error).message}`);
      return;
    }
    setBusy(true);
    setNote(null);
    const [withDraft, withCurrent] = await Promise.all([
      call<TestView>("POST", "/v1/rules/test", { notification, draft: draftDocument }),
      call<TestView>("POST", "/v1/rules/test", { notification }),
    ]);
    setBusy(false);
    const outcome = (a: { data: TestView | null; problem: Problem | null; response: Response }) =>
      a.data ?? [describe(a.problem, a.response), ...(a.problem?.errors ?? []).map((e) => `${e.pointer}: ${e.detail}`)].join("\n");
    setResults({ draft: outcome(withDraft), current: outcome(withCurrent) });
  };

  return (
    <div className="dry-run">
      <h2>Dry run</h2>
      <p className="hint">Nothing is stored or sent. The draft is the text in the editor{dirty ? " (unsaved changes)" : ""}.</p>
      <Editor value={sample} onChange={setSample} label="Sample notification" minHeight="8rem" />
      <div className="editor-actions">
        <label className="inline">Past notification id <input value={pastId} onChange={(e) => setPastId(e.target.value)} placeholder="0190…" /></label>
        <button type="button" className="secondary" onClick={() => void fromPast()} disabled={pastId.trim().length === 0}>Use it</button>
        <button type="button" onClick={() => void run()} disabled={busy}>Dry run</button>
      </div>
      {note && <p role="status" className="hint">{note}</p>}
      {results && (
        <div className="side-by-side" aria-label="Dry run results">
          <Plan title="Draft" result={results.draft} other={results.current} />
          <Plan title={currentVersion === 0 ? "Current (no rules)" : `Current (version ${currentVersion})`} result={results.current} other={results.draft} />
        </div>
      )}
    </div>
  );
}

/** One side of the dry run; what differs from the other side is marked. */
function Plan({ title, result, other }: { title: string; result: TestView | string; other: TestView | string }) {
  const label = `${title} plan`;
  if (typeof result === "string") {
    return (
      <section aria-label={label} className="plan">
        <h3>{title}</h3>
        <pre className="error">{result}</pre>
      </section>
    );
  }
  const o = typeof other === "string" ? null : other;
  const differs = (a: unknown, b: unknown) => o !== null && JSON.stringify(a) !== JSON.stringify(b);
  const cls = (d: boolean) => (d ? "differs" : undefined);
  const steps = result.route.steps.map((s) => `${s.channel} (${s.waitFor}, ${s.timeout})`).join(" → ");
  return (
    <section aria-label={label} className="plan">
      <h3>{title}</h3>
      <dl>
        <div className={cls(differs(result.status, o?.status))}><dt>Outcome</dt><dd data-testid="outcome">{result.status}</dd></div>
        <div className={cls(differs(result.matchedRules, o?.matchedRules))}><dt>Matched rules</dt><dd data-testid="matched">{result.matchedRules.length > 0 ? result.matchedRules.join(", ") : "none"}</dd></div>
        <div className={cls(differs(result.route.priority, o?.route.priority))}><dt>Priority</dt><dd data-testid="priority">{result.route.priority}</dd></div>
        <div className={cls(differs(result.route.steps, o?.route.steps))}><dt>Route</dt><dd data-testid="route">{steps || "no step"}</dd></div>
        <div className={cls(differs(result.decision.decidedBy, o?.decision.decidedBy))}>
          <dt>Decided by</dt>
          <dd>{Object.entries(result.decision.decidedBy).map(([k, v]) => `${k}: ${v}`).join("; ") || "the default route"}</dd>
        </div>
        {(result.decision.ttl || result.decision.delay || result.route.tags) && (
          <div><dt>Other</dt><dd>{[result.decision.ttl && `ttl ${result.decision.ttl}`, result.decision.delay && `delay ${result.decision.delay}`, result.route.tags && `tags ${result.route.tags.join(", ")}`].filter(Boolean).join(" · ")}</dd></div>
        )}
        {result.errors.length > 0 && (
          <div><dt>Rule errors</dt><dd className="error">{result.errors.map((e) => `${e.ruleName}: ${e.message}`).join("; ")}</dd></div>
        )}
      </dl>
      {result.messages.length > 0 && (
        <>
          <h4>Messages</h4>
          <ol className="messages">
            {result.messages.map((m) => (
              <li key={m.step}><strong>{m.channel}</strong>{m.template ? ` (template ${m.template})` : ""}: {m.subject ? <em>{m.subject}: </em> : null}{m.text}</li>
            ))}
          </ol>
        </>
      )}
    </section>
  );
}

/** The version history, newest first: a diff of each version against its predecessor, rollback to any older one. */
function History({ current, canEdit, onRolledBack }: { current: number; canEdit: boolean; onRolledBack: (view: RuleSetView) => void }) {
  const [items, setItems] = useState<VersionView[]>([]);
  const [next, setNext] = useState<number | null>(null);
  const [shown, setShown] = useState<{ version: number; lines: DiffLine[] } | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [confirming, setConfirming] = useState<number | null>(null);

  const page = useCallback(async (before: number | null) => {
    const answer = await call<{ items: VersionView[]; nextBefore?: number | null }>("GET", `/v1/rules/versions?limit=20${before !== null ? `&before=${before}` : ""}`);
    if (answer.data === null) {
      setProblem(describe(answer.problem, answer.response));
      return;
    }
    const data = answer.data;
    setItems((old) => (before === null ? data.items : [...old, ...data.items]));
    setNext(data.nextBefore ?? null);
  }, []);

  useEffect(() => {
    void page(null);
  }, [page]);

  const showDiff = async (version: number) => {
    if (shown?.version === version) {
      setShown(null);
      return;
    }
    const [after, before] = await Promise.all([
      call<RuleSetView>("GET", `/v1/rules/versions/${version}`),
      version > 1 ? call<RuleSetView>("GET", `/v1/rules/versions/${version - 1}`) : Promise.resolve(null),
    ]);
    if (after.data === null) {
      setProblem(describe(after.problem, after.response));
      return;
    }
    setShown({ version, lines: diffLines(before?.data ? pretty(before.data.document) : "", pretty(after.data.document)) });
  };

  const rollback = async (version: number) => {
    setConfirming(null);
    const answer = await call<RuleSetView>("POST", "/v1/rules/rollback", { version }, { "If-Match": `"${current}"` });
    if (answer.data === null) {
      setProblem(describe(answer.problem, answer.response));
      return;
    }
    onRolledBack(answer.data);
  };

  const names = (c: Changes) =>
    [c.added.length > 0 && `+ ${c.added.join(", ")}`, c.removed.length > 0 && `− ${c.removed.join(", ")}`, c.changed.length > 0 && `~ ${c.changed.join(", ")}`]
      .filter(Boolean).join("; ") || "no rule changed";

  return (
    <>
      <h2>Version history</h2>
      {problem && <p className="error" role="alert">{problem}</p>}
      {items.length === 0 ? <p>No version stored yet.</p> : (
        <div className="table-scroll">
          <table aria-label="Rule set versions">
            <thead>
              <tr><th scope="col">Version</th><th scope="col">When</th><th scope="col">Author</th><th scope="col">Comment</th><th scope="col">Rules</th><th scope="col">Changes</th><th scope="col"><span className="visually-hidden">Actions</span></th></tr>
            </thead>
            <tbody>
              {items.map((v) => (
                <tr key={v.version}>
                  <td>{v.version}{v.version === current ? " (current)" : ""}</td>
                  <td>{formatTime(v.createdAt)}</td>
                  <td><code>{v.author}</code></td>
                  <td>{v.comment ?? "—"}</td>
                  <td>{v.ruleCount}</td>
                  <td>{names(v.changes)}</td>
                  <td className="row-actions">
                    <button type="button" className="secondary" aria-expanded={shown?.version === v.version} onClick={() => void showDiff(v.version)}>
                      Diff<span className="visually-hidden"> of version {v.version}</span>
                    </button>
                    {canEdit && v.version !== current && confirming !== v.version && (
                      <button type="button" className="secondary" onClick={() => setConfirming(v.version)}>
                        Roll back<span className="visually-hidden"> to version {v.version}</span>
                      </button>
                    )}
                    {canEdit && confirming === v.version && (
                      <>
                        <button type="button" className="danger" onClick={() => void rollback(v.version)}>
                          Confirm rollback<span className="visually-hidden"> to version {v.version}</span>
                        </button>
                        <button type="button" className="secondary" onClick={() => setConfirming(null)}>Keep</button>
                      </>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {next !== null && <p><button type="button" className="secondary" onClick={() => void page(next)}>Older versions</button></p>}
      {shown && (
        <figure className="diff" aria-label={`Changes in version ${shown.version}`}>
          <figcaption>Version {shown.version} against {shown.version > 1 ? `version ${shown.version - 1}` : "nothing"}</figcaption>
          <pre>
            {shown.lines.map((l, i) => (
              <span key={i} className={`diff-${l.kind}`}>{l.kind === "added" ? "+ " : l.kind === "removed" ? "- " : "  "}{l.text}{"\n"}</span>
            ))}
          </pre>
        </figure>
      )}
    </>
  );
}
