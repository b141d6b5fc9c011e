import { useState, type FormEvent } from 'react';
import { adminApi } from './admin-api';
import { buttonClass, Dialog } from './Dialog';

/** Asks for the admin token; on success the caller refreshes the session and reconnects the socket. */
export function LoginDialog({ onClose, onDone }: { onClose: () => void; onDone: () => Promise<void> }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    const r = await adminApi.login(token);
    setBusy(false);
    if (!r.ok) return setError(r.error.message);
    await onDone();
    onClose();
  };
  return (
    <Dialog title="Log in as admin" onClose={onClose}>
      <form onSubmit={submit} className="space-y-3 text-sm">
        <label className="block">
          <span className="text-slate-600 dark:text-slate-300">Admin token (ADMIN_TOKEN of this lockscope)</span>
          <input
            type="password"
            autoComplete="current-password"
            required
            autoFocus
            value={token}
            onChange={(e) => setToken(e.target.value)}
            className="mt-1 block w-full rounded border border-slate-300 bg-white px-2 py-1 font-mono dark:border-slate-600 dark:bg-slate-800"
          />
        </label>
        {error && (
          <p role="alert" className="rounded bg-red-100 px-3 py-2 text-red-900 dark:bg-red-900/50 dark:text-red-100">
            {error}
          </p>
        )}
        <div className="flex justify-end gap-2">
          <button type="button" className={buttonClass.secondary} onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className={buttonClass.primary} disabled={busy || !token}>
            {busy ? 'Checking…' : 'Log in'}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
