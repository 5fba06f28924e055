// Where a JSON pointer (RFC 6901, as Herald's located errors give it: /rules/2/when) sits in a document's text, so an
// error is shown at its place in the editor. A small scanner rather than JSON.parse, which keeps no positions; it is
// forgiving: on text that is not JSON it returns the spans read before the fault.

/** A value's place in the text; for an object member, `keyFrom` is where its name starts. */
export interface Span {
  from: number;
  to: number;
  keyFrom?: number;
}

export function spans(text: string): Map<string, Span> {
  const found = new Map<string, Span>();
  let i = 0;
  const space = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  const string = (): string => {
    // At the opening quote; returns the decoded value (escapes are kept simple: enough for names).
    let out = "";
    i++;
    while (i < text.length && text[i] !== '"') {
      if (text[i] === "\\") {
        const next = text[i + 1];
        if (next === "u") {
          out += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16));
          i += 6;
          continue;
        }
        out += next === "n" ? "\n" : next === "t" ? "\t" : (next ?? "");
        i += 2;
        continue;
      }
      out += text[i];
      i++;
    }
    if (i >= text.length) throw new Error("unterminated string");
    i++;
    return out;
  };
  const value = (pointer: string, keyFrom?: number): void => {
    space();
    const from = i;
    const c = text[i];
    if (c === "{") {
      i++;
      space();
      if (text[i] === "}") {
        i++;
      } else {
        for (;;) {
          space();
          if (text[i] !== '"') throw new Error("name expected");
          const nameFrom = i;
          const name = string();
          space();
          if (text[i] !== ":") throw new Error("colon expected");
          i++;
          value(`${pointer}/${name.replace(/~/g, "~0").replace(/\//g, "~1")}`, nameFrom);
          space();
          if (text[i] === ",") { i++; continue; }
          if (text[i] === "}") { i++; break; }
          throw new Error("comma expected");
        }
      }
    } else if (c === "[") {
      i++;
      space();
      if (text[i] === "]") {
        i++;
      } else {
        for (let n = 0; ; n++) {
          value(`${pointer}/${n}`);
          space();
          if (text[i] === ",") { i++; continue; }
          if (text[i] === "]") { i++; break; }
          throw new Error("comma expected");
        }
      }
    } else if (c === '"') {
      string();
    } else {
      const m = /^(?:-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 64));
      if (m === null) throw new Error("value expected");
      i += m[0].length;
    }
    found.set(pointer, keyFrom === undefined ? { from, to: i } : { from, to: i, keyFrom });
  };
  try {
    value("");
  } catch {
    // Not JSON (yet): what was read stays usable.
  }
  return found;
}

/**
 * The text range to mark for an error at `pointer` (and, inside a condition string, at character `position`): the
 * value itself; else its nearest enclosing value that exists (an unknown or missing field is reported at its parent);
 * else the whole document.
 */
export function locate(text: string, pointer: string, position?: number | null): { from: number; to: number } {
  const all = spans(text);
  let p = pointer === "/" ? "" : pointer;
  for (;;) {
    const span = all.get(p);
    if (span !== undefined) {
      if (position !== undefined && position !== null && text[span.from] === '"') {
        // A condition's character offset: inside the quotes (escapes in conditions are rare; close enough if any).
        // A condition that ends too early is reported just past its last character: mark the closing quote then.
        const at = Math.min(span.from + 1 + position, span.to - 1);
        return { from: at, to: at + 1 };
      }
      const from = p === pointer ? (span.keyFrom ?? span.from) : span.from;
      return { from, to: p === pointer ? span.to : Math.min(span.to, from + 1) };
    }
    if (p === "") return { from: 0, to: Math.min(text.length, 1) };
    p = p.slice(0, p.lastIndexOf("/"));
  }
}
