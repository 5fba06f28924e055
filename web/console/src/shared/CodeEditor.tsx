// The code editor for rules and templates: CodeMirror 6 (a well-kept, modular editor; about 120 KB gzipped with the
// JSON language). It is imported only through LazyEditor.tsx, so its chunk loads when a page with an editor opens and
// the first page's JavaScript stays small. CodeMirror styles itself at run time: in a document it adds <style>
// elements, which the console's Content-Security-Policy (style-src 'self', no 'unsafe-inline') blocks; inside a shadow
// root it uses constructable style sheets (adoptedStyleSheets), which the policy allows. So each editor lives in a
// shadow root of its host element (open: the accessibility tree and the browser tests see into it).
import { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
import { json } from "@codemirror/lang-json";
import { bracketMatching, HighlightStyle, syntaxHighlighting } from "@codemirror/language";
import { lintGutter, setDiagnostics, type Diagnostic } from "@codemirror/lint";
import { Annotation, EditorState } from "@codemirror/state";
import { EditorView, highlightActiveLine, keymap, lineNumbers } from "@codemirror/view";
import { tags } from "@lezer/highlight";
import { useEffect, useRef } from "react";

/** A located problem to show in the editor: a range of the text and what is wrong there. */
export interface Mark {
  from: number;
  to: number;
  message: string;
}

export interface CodeEditorProps {
  value: string;
  onChange?: (value: string) => void;
  readOnly?: boolean;
  marks?: Mark[];
  /** The accessible name of the editing area. */
  label: string;
  language?: "json" | "text";
  minHeight?: string;
}

// Marks a change that came from the page (a reload, a rollback), not from typing: it is not reported back as an edit.
const fromPage = Annotation.define<boolean>();

// The console's dark theme (styles.css) for the editor; contrast at least 4.5:1 like the rest.
const theme = EditorView.theme(
  {
    "&": { backgroundColor: "#0f141a", color: "#e6edf3", border: "1px solid #2a3644", borderRadius: "6px" },
    "&.cm-focused": { outline: "2px solid #6cb6ff", outlineOffset: "2px" },
    ".cm-content": { fontFamily: 'ui-monospace, "DejaVu Sans Mono", monospace', caretColor: "#e6edf3" },
    ".cm-gutters": { backgroundColor: "#17202a", color: "#a9b4c2", borderRight: "1px solid #2a3644" },
    ".cm-activeLine": { backgroundColor: "#17202a" },
    ".cm-activeLineGutter": { backgroundColor: "#2a3644" },
    "&.cm-focused .cm-cursor": { borderLeftColor: "#e6edf3" },
    "&.cm-focused .cm-selectionBackground, .cm-selectionBackground, ::selection": { backgroundColor: "#2f4a66" },
    ".cm-lintRange-error": { backgroundImage: "none", textDecoration: "underline wavy #ff6b81", backgroundColor: "#4a1f29" },
    ".cm-tooltip": { backgroundColor: "#17202a", color: "#e6edf3", border: "1px solid #2a3644" },
    ".cm-diagnostic-error": { borderLeftColor: "#ff6b81" },
  },
  { dark: true },
);

const highlight = HighlightStyle.define([
  { tag: tags.propertyName, color: "#6cb6ff" },
  { tag: tags.string, color: "#a5d6a7" },
  { tag: [tags.number, tags.bool, tags.null], color: "#ffd166" },
  { tag: tags.punctuation, color: "#a9b4c2" },
]);

export default function CodeEditor({ value, onChange, readOnly = false, marks = [], label, language = "json", minHeight = "12rem" }: CodeEditorProps) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const changed = useRef(onChange);
  changed.current = onChange;

  useEffect(() => {
    const element = host.current!;
    const shadow = element.shadowRoot ?? element.attachShadow({ mode: "open" });
    const editor = new EditorView({
      root: shadow,
      parent: shadow,
      state: EditorState.create({
        doc: value,
        extensions: [
          lineNumbers(),
          history(),
          bracketMatching(),
          highlightActiveLine(),
          // Tab is left to the browser, so the keyboard can leave the editor (no indentWithTab).
          keymap.of([...defaultKeymap, ...historyKeymap]),
          ...(language === "json" ? [json()] : []),
          syntaxHighlighting(highlight),
          lintGutter(),
          theme,
          EditorView.theme({ ".cm-content, .cm-gutter": { minHeight } }),
          EditorView.lineWrapping,
          EditorState.readOnly.of(readOnly),
          EditorView.editable.of(!readOnly),
          EditorView.contentAttributes.of({ "aria-label": label, ...(readOnly ? { "aria-readonly": "true" } : {}) }),
          EditorView.updateListener.of((update) => {
            if (update.docChanged && !update.transactions.some((t) => t.annotation(fromPage))) {
              changed.current?.(update.state.doc.toString());
            }
          }),
        ],
      }),
    });
    view.current = editor;
    return () => {
      editor.destroy();
      view.current = null;
    };
    // The editor is made once per mount (and remade when it turns read-only); value and marks follow through the
    // effects below.
  }, [readOnly, language, label]);

  useEffect(() => {
    const editor = view.current;
    if (editor !== null && editor.state.doc.toString() !== value) {
      editor.dispatch({ changes: { from: 0, to: editor.state.doc.length, insert: value }, annotations: fromPage.of(true) });
    }
  }, [value]);

  useEffect(() => {
    const editor = view.current;
    if (editor === null) return;
    const length = editor.state.doc.length;
    const diagnostics: Diagnostic[] = marks.map((m) => ({
      from: Math.min(m.from, length),
      to: Math.min(Math.max(m.to, m.from), length),
      severity: "error",
      message: m.message,
    }));
    editor.dispatch(setDiagnostics(editor.state, diagnostics));
  }, [marks]);

  return <div ref={host} className="code-editor" />;
}
