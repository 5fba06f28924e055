const time = new Intl.DateTimeFormat(undefined, { dateStyle: "short", timeStyle: "medium" });

export function formatTime(value: string | null | undefined): string {
  return value ? time.format(new Date(value)) : "—";
}

export function formatPercent(value: number | null | undefined): string {
  return value === null || value === undefined ? "—" : `${(value * 100).toFixed(1)} %`;
}

/** A time with how long after <c>from</c> it came, e.g. "12:00:01 (+350 ms)". A provider's receipt time can read
 * earlier than Herald's own (providers stamp whole seconds, on their clock): then no gap is shown. */
export function formatAfter(from: string | null | undefined, to: string | null | undefined): string {
  if (!to) return "—";
  const ms = from ? new Date(to).getTime() - new Date(from).getTime() : -1;
  if (ms < 0) return formatTime(to);
  return `${formatTime(to)} (+${ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${ms} ms`})`;
}

/** A latency in milliseconds, e.g. "350 ms", "1.3 s", "11.0 min"; a dash for none. */
export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1000) return `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${(ms / 60_000).toFixed(1)} min`;
}
