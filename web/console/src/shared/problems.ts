import type { Problem } from "../api/client";

/** A refused write's located errors, grouped by the form field they belong to (`fieldOf` maps a JSON pointer to a
 * field's name; null leaves it in the general list shown above the form). */
export interface Located {
  /** The problem's title and detail, when the write was refused. */
  summary: string | null;
  byField: Map<string, { pointer: string; detail: string }[]>;
  general: { pointer: string; detail: string }[];
}

export const noProblems: Located = { summary: null, byField: new Map(), general: [] };

export function locate(problem: Problem | null, fieldOf: (pointer: string) => string | null): Located {
  if (problem === null) return noProblems;
  const byField = new Map<string, { pointer: string; detail: string }[]>();
  const general: { pointer: string; detail: string }[] = [];
  for (const error of problem.errors ?? []) {
    const field = fieldOf(error.pointer);
    if (field === null) {
      general.push(error);
    } else {
      byField.set(field, [...(byField.get(field) ?? []), error]);
    }
  }
  const summary = [problem.title, problem.detail].filter((p): p is string => typeof p === "string" && p.length > 0).join(" ");
  return { summary: summary.length > 0 ? summary : `Refused (${problem.status ?? "no answer"}).`, byField, general };
}
