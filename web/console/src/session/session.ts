import { setCsrf } from "../api/client";

/** The signed-in session as the server describes it; the API key itself is never kept. */
export interface Session {
  tenantId: string;
  roles: string[];
  keyPrefix: string;
  csrf: string;
  expiresAt: string;
}

// The session endpoints are the console's own (not part of the product API the client is typed from), so they are
// called with fetch; the cookie they set is HttpOnly and never visible here.
export async function currentSession(): Promise<Session | null> {
  const response = await fetch("/console/session", { credentials: "same-origin" });
  if (!response.ok) {
    setCsrf(null);
    return null;
  }
  const session = (await response.json()) as Session;
  setCsrf(session.csrf);
  return session;
}

export async function signIn(key: string): Promise<Session | string> {
  const response = await fetch("/console/session", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ key }),
  });
  if (!response.ok) {
    const problem = (await response.json().catch(() => ({}))) as { title?: string; errors?: { detail: string }[] };
    return problem.errors?.[0]?.detail ?? problem.title ?? `Sign-in failed (${response.status}).`;
  }
  const session = (await response.json()) as Session;
  setCsrf(session.csrf);
  return session;
}

export async function signOut(): Promise<void> {
  await fetch("/console/session", { method: "DELETE", credentials: "same-origin" });
  setCsrf(null);
}
