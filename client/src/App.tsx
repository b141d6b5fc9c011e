import { useState } from 'react';
import { AuditLog } from './components/Admin/AuditLog';
import { BulkReleaseBar } from './components/Admin/BulkRelease';
import { useAdminFeed } from './components/Admin/AdminStatus';
import { LockActions } from './components/Admin/LockActions';
import { ConnectionBanner } from './components/ConnectionBanner';
import { DetailPanel } from './components/DetailPanel/DetailPanel';
import { Header } from './components/Header';
import { LockTable } from './components/LockTable/LockTable';
import { SimulatorPanel } from './components/SimulatorPanel/SimulatorPanel';
import { SummaryBar } from './components/SummaryBar';
import { Toolbar } from './components/Toolbar';

type View = 'locks' | 'audit';

export function App() {
  useAdminFeed();
  const [view, setView] = useState<View>('locks');
  return (
    <div className="flex h-full flex-col bg-slate-50 text-slate-900 dark:bg-slate-950 dark:text-slate-100">
      <Header />
      <ConnectionBanner />
      <nav role="tablist" aria-label="Views" className="flex gap-1 border-b border-slate-200 px-3 text-sm dark:border-slate-800">
        {(['locks', 'audit'] as const).map((v) => (
          <button
            key={v}
            type="button"
            role="tab"
            aria-selected={view === v}
            onClick={() => setView(v)}
            className={`-mb-px border-b-2 px-3 py-1.5 ${view === v ? 'border-sky-600 font-medium text-slate-900 dark:text-white' : 'border-transparent text-slate-500 hover:text-slate-800 dark:text-slate-400 dark:hover:text-slate-200'}`}
          >
            {v === 'locks' ? 'Locks' : 'Audit log'}
          </button>
        ))}
      </nav>
      {view === 'locks' ? (
        <div className="relative flex min-h-0 flex-1">
          <main className="flex min-w-0 flex-1 flex-col">
            <SummaryBar />
            <Toolbar />
            <BulkReleaseBar />
            <LockTable />
            <SimulatorPanel />
          </main>
          <DetailPanel actions={(lock) => <LockActions lock={lock} />} />
        </div>
      ) : (
        <main className="flex min-h-0 flex-1 flex-col">
          <AuditLog />
        </main>
      )}
    </div>
  );
}
