import { Suspense, useEffect, useId, useState } from 'react';
import { onDemand } from '../../lib/on-demand';
import { useSocket } from '../../socket/SocketProvider';
import { adminApi } from './admin-api';
import { useAdminStore } from './admin-store';
import { buttonClass } from './Dialog';

const LoginDialog = onDemand(() => import('./LoginDialog'), (m) => m.LoginDialog);

/**
 * Keeps the admin session and the live audit feed in step with the socket: the session cookie only travels
 * with the socket handshake, so logging in or out reconnects the socket.
 */
export function useAdminFeed(): void {
  const socket = useSocket();
  useEffect(() => {
    const store = useAdminStore.getState();
    void store.refreshSession().then(() => useAdminStore.getState().loadAudit());
    socket.on('admin:audit', store.addAudit);
    return () => {
      socket.off('admin:audit', store.addAudit);
    };
  }, [socket]);
}

/** Header part: whether this browser may act on locks, and if not, why — with a login when that helps. */
export function AdminStatus() {
  const session = useAdminStore((s) => s.session);
  const socket = useSocket();
  const [login, setLogin] = useState(false);
  if (!session) return null;

  const afterChange = async () => {
    await useAdminStore.getState().refreshSession();
    socket.disconnect().connect();
    await useAdminStore.getState().loadAudit();
  };

  if (session.admin === 'read-only') return <ReadOnlyBadge reason={session.reason} />;
  if (session.admin === 'login-required') {
    return (
      <>
        <button type="button" className={`${buttonClass.small} shrink-0 whitespace-nowrap`} onClick={() => setLogin(true)} data-testid="admin-status">
          Log in for admin actions
        </button>
        {login && (
          <Suspense>
            <LoginDialog onClose={() => setLogin(false)} onDone={afterChange} />
          </Suspense>
        )}
      </>
    );
  }
  return (
    <span className="flex shrink-0 items-center gap-2 text-xs whitespace-nowrap" data-testid="admin-status">
      <span
        className="rounded bg-slate-200 px-1.5 py-0.5 font-medium dark:bg-slate-700"
        title={session.via === 'open' ? 'Admin actions need no token: lockscope runs its own Redis and listens on loopback only' : 'Admin actions allowed'}
      >
        Admin{session.via === 'open' && <span className="font-normal text-slate-600 dark:text-slate-300"> · local</span>}
      </span>
      {session.via === 'session' && (
        <button type="button" className={buttonClass.small} onClick={() => void adminApi.logout().then(afterChange)}>
          Log out
        </button>
      )}
    </span>
  );
}

/**
 * "Read-only" as a short badge; the reason is its accessible description, its tooltip, and a popover on click
 * (tooltips never show for keyboard users).
 */
function ReadOnlyBadge({ reason }: { reason?: string }) {
  const [open, setOpen] = useState(false);
  const id = useId();
  return (
    <span className="relative shrink-0 text-xs whitespace-nowrap" data-testid="admin-status">
      <button
        type="button"
        aria-expanded={reason ? open : undefined}
        aria-describedby={reason ? id : undefined}
        title={reason}
        onClick={() => setOpen((o) => !o)}
        onBlur={() => setOpen(false)}
        onKeyDown={(e) => {
          if (e.key === 'Escape' && open) {
            e.stopPropagation();
            setOpen(false);
          }
        }}
        className="rounded border border-slate-300 px-1.5 py-0.5 font-medium text-slate-600 hover:bg-slate-100 dark:border-slate-600 dark:text-slate-300 dark:hover:bg-slate-800"
      >
        Read-only
      </button>
      {reason && (
        <span
          id={id}
          className={
            open
              ? 'absolute top-7 right-0 z-50 w-72 rounded-md border border-slate-200 bg-white p-2 whitespace-normal text-slate-700 shadow-lg dark:border-slate-700 dark:bg-slate-900 dark:text-slate-200'
              : 'sr-only'
          }
        >
          No admin actions: {reason}.
        </span>
      )}
    </span>
  );
}
