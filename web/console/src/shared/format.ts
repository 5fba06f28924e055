const time = new Intl.DateTimeFormat(undefined, { dateStyle: "short", timeStyle: "medium" });

export function formatTime(value: string | null | undefined): string {
  return value ? time.format(new Date(value)) : "—";
}

export function formatPercent(value: number | null | undefined): string {
  return value === null || value === undefined ? "—" : `${(value * 100).toFixed(1)} %`;
}

/** Milliseconds between two times, as "1.2 s" / "350 ms"; a dash when either is missing. */
export function formatGap(from: string | null | undefined, to: string | null | undefined): string {
  if (!from || !to) return "—";
  const ms = new Date(to).getTime() - new Date(from).getTime();
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${ms} ms`;
}
