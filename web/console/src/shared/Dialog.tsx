import { useEffect, useRef, type ReactNode } from "react";

/**
 * A modal confirmation on the browser's own <dialog>: focus moves into it and stays there, Escape closes it, and
 * the page behind is inert; so it is keyboard-accessible without a library. The cancel button has the focus first,
 * so Enter on an opened dialog never confirms a destructive action by accident.
 */
export function ConfirmDialog({ open, title, children, confirm, onConfirm, onClose }: {
  open: boolean;
  title: string;
  children: ReactNode;
  confirm: string;
  onConfirm: () => void;
  onClose: () => void;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = dialog.current;
    if (d === null) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return (
    <dialog ref={dialog} className="confirm" aria-labelledby="confirm-title" onClose={onClose}>
      <h2 id="confirm-title">{title}</h2>
      {children}
      <div className="editor-actions">
        <button type="button" className="secondary" autoFocus onClick={onClose}>Keep</button>
        <button type="button" className="danger" onClick={onConfirm}>{confirm}</button>
      </div>
    </dialog>
  );
}

/** A secret Herald shows once (a signing secret just made or rotated): said plainly, selectable, never stored. */
export function SecretOnce({ label, secret, onDone }: { label: string; secret: string; onDone: () => void }) {
  return (
    <div className="secret" role="status">
      <p><strong>{label}</strong>: shown this once; Herald keeps it encrypted and will not show it again. Copy it now.</p>
      <code data-testid="secret">{secret}</code>
      <div><button type="button" className="secondary" onClick={onDone}>I have copied it</button></div>
    </div>
  );
}
