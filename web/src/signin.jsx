// Sign-in, and the password change a one-time password forces.
import { useState } from 'preact/hooks';
import { session } from './api.js';
import { ErrorMessage } from './components.jsx';

export function SignIn({ onSignedIn }) {
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await session.login(name, password));
    } catch (err) {
      setError(err);
      setPassword('');
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="narrow">
      <h1>Sign in to idsync</h1>
      <form onSubmit={submit} aria-label="Sign in">
        <label for="signin-name">User name</label>
        <input id="signin-name" name="username" autocomplete="username" required
          value={name} onInput={(e) => setName(e.target.value)} />
        <label for="signin-password">Password</label>
        <input id="signin-password" name="password" type="password" autocomplete="current-password"
          required value={password} onInput={(e) => setPassword(e.target.value)} />
        <ErrorMessage error={error} />
        <button type="submit" class="primary" disabled={busy}>Sign in</button>
      </form>
      <p class="hint">
        No user yet? On the server: <code>idsync admin-user add NAME</code> prints a one-time
        password.
      </p>
    </section>
  );
}

export function ChangePassword({ me, onChanged, forced }) {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [again, setAgain] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    if (next !== again) {
      setError(new Error('The two new passwords differ.'));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      onChanged(await session.changePassword(current, next));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="narrow">
      <h1>Choose your password</h1>
      {forced && (
        <p>
          You signed in as <strong>{me.user}</strong> with a one-time password. Choose your own
          (at least 12 characters) to continue.
        </p>
      )}
      <form onSubmit={submit} aria-label="Change password">
        <input type="text" name="username" autocomplete="username" value={me.user} hidden readOnly />
        <label for="pw-current">Current (one-time) password</label>
        <input id="pw-current" type="password" autocomplete="current-password" required
          value={current} onInput={(e) => setCurrent(e.target.value)} />
        <label for="pw-new">New password</label>
        <input id="pw-new" type="password" autocomplete="new-password" required minLength={12}
          value={next} onInput={(e) => setNext(e.target.value)} />
        <label for="pw-again">New password again</label>
        <input id="pw-again" type="password" autocomplete="new-password" required minLength={12}
          value={again} onInput={(e) => setAgain(e.target.value)} />
        <ErrorMessage error={error} />
        <button type="submit" class="primary" disabled={busy}>Save password</button>
      </form>
    </section>
  );
}
