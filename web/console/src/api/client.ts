// The console's one way to Herald's API: openapi-fetch over the types generated from Herald's OpenAPI document
// (openapi/v1.json → api/schema.d.ts at build time). The session cookie rides along (same origin); writes carry the
// session's CSRF token; a 401 sends the user back to sign-in.
import createClient, { type Middleware } from "openapi-fetch";
import type { paths, components } from "./schema";

export type Schemas = components["schemas"];

let csrf: string | null = null;
let onSignedOut: () => void = () => {};

/** Remembers the session's CSRF token in memory only (never in browser storage). */
export function setCsrf(token: string | null): void {
  csrf = token;
}

export function whenSignedOut(handler: () => void): void {
  onSignedOut = handler;
}

const session: Middleware = {
  onRequest({ request }) {
    if (csrf !== null && request.method !== "GET" && request.method !== "HEAD") {
      request.headers.set("X-Herald-CSRF", csrf);
    }
    return request;
  },
  onResponse({ response, request }) {
    if (response.status === 401 && !new URL(request.url).pathname.startsWith("/console/session")) {
      onSignedOut();
    }
    return response;
  },
};

export const api = createClient<paths>({ baseUrl: "", credentials: "same-origin" });
api.use(session);

/** An RFC 9457 problem as Herald answers it. */
export interface Problem {
  title?: string;
  detail?: string | null;
  status?: number;
  errors?: { pointer: string; detail: string }[] | null;
}

/** One line for a failed call: the problem's title and detail, or the status. */
export function describe(error: unknown, response: Response | undefined): string {
  const problem = (error ?? {}) as Problem;
  const parts = [problem.title, problem.detail].filter((p): p is string => typeof p === "string" && p.length > 0);
  return parts.length > 0 ? parts.join(" ") : `Request failed (${response?.status ?? "no answer"}).`;
}

/**
 * What the console reads from two endpoints whose answers Herald's OpenAPI document does not declare yet
 * (GET /v1/providers, GET /v1/webhooks/deliveries, GET /v1/reports/costs). The document's clean-up (issue #19) declares them; then these
 * give way to the generated types.
 */
export interface ProviderAccount {
  id: string;
  name: string;
  channel: string;
  kind: string;
  health: string;
  isolated: boolean;
  /** The circuit on each sending node, when the nodes report them. */
  nodes?: { node: string; state: string; since: string }[];
}

/** GET /v1/reports/costs, as the overview reads it. */
export interface CostReport {
  totals: { channel?: string; currency?: string; attempts: number; cost: number }[];
}

export interface WebhookDelivery {
  id: string;
  status: string;
  state: string;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: string;
}

/** The body of an answer the document leaves undeclared, as the shape the console expects. */
export function undeclared<T>(result: { data?: unknown; response: Response }): T | null {
  return result.response.ok && result.data !== undefined ? (result.data as T) : null;
}

/** The outcome of a call to an endpoint whose body the OpenAPI document does not declare yet. */
export interface Answer<T> {
  data: T | null;
  problem: Problem | null;
  response: Response;
}

/**
 * Calls an endpoint the document declares without a body schema yet (the rules, templates, sandbox answers), with the
 * same session rules as the typed client: the cookie rides along, writes carry the CSRF token, a 401 signs out.
 */
export async function call<T>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Answer<T>> {
  const sent = new Headers(headers);
  if (body !== undefined && !sent.has("Content-Type")) {
    sent.set("Content-Type", "application/json");
  }
  if (csrf !== null && method !== "GET" && method !== "HEAD") {
    sent.set("X-Herald-CSRF", csrf);
  }
  const response = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: sent,
    body: body === undefined ? null : typeof body === "string" ? body : JSON.stringify(body),
  });
  if (response.status === 401) {
    onSignedOut();
  }
  const text = await response.text();
  let parsed: unknown = null;
  try {
    parsed = text.length > 0 ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  return response.ok
    ? { data: parsed as T, problem: null, response }
    : { data: null, problem: (parsed as Problem | null) ?? { status: response.status }, response };
}
