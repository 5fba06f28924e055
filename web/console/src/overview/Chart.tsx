import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface Series {
  label: string;
  color: string;
  /** One value per time; null where there is none (a gap in the line). */
  values: (number | null)[];
}

/** A time-series line chart (uPlot: small, canvas-drawn, no inline script or style element); <c>log</c> draws the values on a logarithmic scale with their points (latencies: sparse,
 * and spread over orders of magnitude). */
export function Chart({ title, times, series, unit, summary, log = false }: { title: string; times: number[]; series: Series[]; unit: string; summary?: string; log?: boolean }) {
  const host = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const element = host.current;
    if (element === null) return;
    const options: uPlot.Options = {
      width: Math.max(element.clientWidth, 240),
      height: 220,
      scales: log ? { x: { time: true }, y: { distr: 3 } } : { x: { time: true } },
      axes: [
        { stroke: "#a9b4c2", grid: { stroke: "#26303c" }, ticks: { stroke: "#26303c" } },
        { stroke: "#a9b4c2", grid: { stroke: "#26303c" }, ticks: { stroke: "#26303c" }, label: unit, labelSize: 20 },
      ],
      series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, points: { show: log }, spanGaps: false }))],
      legend: { show: true },
    };
    const plot = new uPlot(options, [times, ...series.map((s) => s.values)], element);
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(element.clientWidth, 240), height: 220 }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [times, series, unit, log]);

  const totals = summary ?? series.map((s) => `${s.label} ${s.values.reduce<number>((a, b) => a + (b ?? 0), 0).toFixed(1)}`).join(", ");
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      <div ref={host} role="img" aria-label={`${title}: ${series.length === 0 ? "no data" : totals}`} />
    </figure>
  );
}
