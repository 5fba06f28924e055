import { useState, type FormEvent } from "react";
import { signIn, type Session } from "./session";

/** Sign-in with a tenant API key. The key goes to the server once and is dropped from memory; the browser keeps only
 * the server's HttpOnly session cookie. */
export function SignIn({ onSignedIn }: { onSignedIn: (session: Session) => void }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const input = form.elements.namedItem("key") as HTMLInputElement;
    setBusy(true);
    const result = await signIn(input.value.trim());
    input.value = "";
    setBusy(false);
    if (typeof result === "string") {
      setError(result);
      input.focus();
    } else {
      onSignedIn(result);
    }
  };

  return (
    <main className="signin">
      <form onSubmit={(e) => void submit(e)} aria-describedby={error ? "signin-error" : undefined}>
        <h1>Herald console</h1>
        <label htmlFor="key">API key</label>
        <input id="key" name="key" type="password" autoComplete="off" spellCheck={false} required autoFocus />
        <p className="hint">A tenant key with the <code>read</code> role (and <code>send</code> to cancel). It is exchanged for a
          session cookie and not kept by the browser.</p>
        {error && <p id="signin-error" className="error" role="alert">{error}</p>}
        <button type="submit" disabled={busy}>Sign in</button>
      </form>
    </main>
  );
}
