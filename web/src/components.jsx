// Small building blocks shared by the pages.
import { useEffect, useRef, useState } from 'preact/hooks';

export function ErrorMessage({ error }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {error.message || String(error)}
    </p>
  );
}

// A secret or URL shown with a copy button. The value is held only in this component's props:
// when the page moves on it is gone from the page.
export function CopyField({ label, value, id }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied(true);
    } catch {
      // Clipboard access needs a secure context; select the text so Ctrl+C works.
      document.getElementById(id).select();
    }
  };
  return (
    <div class="copy-field">
      <label for={id}>{label}</label>
      <div class="copy-row">
        <input id={id} type="text" readOnly value={value} spellcheck={false} />
        <button type="button" onClick={copy} aria-label={'Copy ' + label}>
          {copied ? 'Copied' : 'Copy'}
        </button>
      </div>
    </div>
  );
}

// A modal confirmation. Focus goes to Cancel (the safe choice); Escape cancels.
export function Confirm({ title, children, confirmLabel, onConfirm, onCancel, busy }) {
  const cancelRef = useRef(null);
  useEffect(() => {
    cancelRef.current && cancelRef.current.focus();
    const onKey = (e) => {
      if (e.key === 'Escape') onCancel();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);
  return (
    <div class="modal-backdrop">
      <div class="modal" role="dialog" aria-modal="true" aria-labelledby="confirm-title">
        <h2 id="confirm-title">{title}</h2>
        {children}
        <div class="actions">
          <button type="button" ref={cancelRef} onClick={onCancel}>
            Cancel
          </button>
          <button type="button" class="danger" onClick={onConfirm} disabled={busy}>
            {confirmLabel}
          </button>
        </div>
      </div>
    </div>
  );
}

export function Loading() {
  return <p class="loading">Loading…</p>;
}
