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

// A modal confirmation. Focus goes to Cancel (the safe choice), Tab stays inside the dialog,
// Escape cancels, and focus returns to what opened it.
export function Confirm({ title, children, confirmLabel, onConfirm, onCancel, busy }) {
  const cancelRef = useRef(null);
  const dialogRef = useRef(null);
  useEffect(() => {
    const opener = document.activeElement;
    cancelRef.current && cancelRef.current.focus();
    const onKey = (e) => {
      if (e.key === 'Escape') onCancel();
      if (e.key !== 'Tab' || !dialogRef.current) return;
      const items = [...dialogRef.current.querySelectorAll('button:not([disabled])')];
      if (items.length === 0) return;
      const first = items[0];
      const last = items[items.length - 1];
      if (e.shiftKey && document.activeElement === first) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && document.activeElement === last) {
        e.preventDefault();
        first.focus();
      }
    };
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('keydown', onKey);
      if (opener && opener.isConnected) opener.focus();
    };
  }, []);
  return (
    <div class="modal-backdrop">
      <div class="modal" role="dialog" aria-modal="true" aria-labelledby="confirm-title" ref={dialogRef}>
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

// A secret shown once (a new token, a one-time password, an LDAP account's password): a note,
// the fields with copy buttons, what to do with them (children), and the button that dismisses
// the panel.
// The values live only in the props of this panel; once dismissed they are gone from the page.
export function SecretPanel({ id, title, note, fields, doneLabel, onDone, children }) {
  return (
    <section class="secret" id={id} aria-labelledby={id + '-title'}>
      {title && <h2 id={id + '-title'}>{title}</h2>}
      {note && <p>{note}</p>}
      {fields.filter((f) => f.value).map((f) => (
        <CopyField key={f.id} id={f.id} label={f.label} value={f.value} />
      ))}
      {children}
      <button type="button" class="primary" onClick={onDone}>
        {doneLabel || 'Done'}
      </button>
    </section>
  );
}

// The state every list page shares: `load` (which sets the page's own state) runs on mount;
// `act(fn)` runs a change, then loads again, with `busy` set meanwhile; `error` holds the last
// failure (cleared when an action starts or a load succeeds); `reload` loads again by hand.
export function useLoader(load) {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const reload = async () => {
    try {
      await load();
      setError(null);
    } catch (err) {
      setError(err);
    }
  };
  useEffect(() => {
    reload();
  }, []);
  const act = async (fn) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
      await load();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return { error, busy, act, reload };
}
