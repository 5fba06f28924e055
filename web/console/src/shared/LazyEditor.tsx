import { lazy, Suspense } from "react";
import type { CodeEditorProps } from "./CodeEditor";

// The editor's chunk (CodeMirror) loads only when a page shows an editor: the first page stays small.
const CodeEditor = lazy(() => import("./CodeEditor"));

export type { Mark } from "./CodeEditor";

export function Editor(props: CodeEditorProps) {
  return (
    <Suspense fallback={<p role="status">Loading the editor…</p>}>
      <CodeEditor {...props} />
    </Suspense>
  );
}
