// Prints the gzipped size of the JavaScript the first page loads (the entry chunk and every chunk it imports
// statically, as Vite's manifest-free index.html names them) and fails the build above the budget (issue #19: 250 KB).
import { readFileSync, readdirSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { join } from "node:path";

const budget = 250 * 1024;
const dist = new URL("../dist/", import.meta.url).pathname;
const html = readFileSync(join(dist, "index.html"), "utf8");
const named = [...html.matchAll(/(?:src|href)="\/console\/(assets\/[^"]+\.js)"/g)].map((m) => m[1]);
let total = 0;
for (const file of named) {
  total += gzipSync(readFileSync(join(dist, file))).length;
}
const all = readdirSync(join(dist, "assets")).filter((f) => f.endsWith(".js"));
const kb = (n) => (n / 1024).toFixed(1);
console.log(`console: first page JavaScript ${kb(total)} KB gzipped (${named.length} file(s); budget ${kb(budget)} KB; ${all.length} chunk(s) in all)`);
if (named.length === 0 || total > budget) {
  console.error(named.length === 0 ? "console: index.html names no script" : "console: over the first-page JavaScript budget");
  process.exit(1);
}
