import { Suspense, useRef, type KeyboardEvent } from 'react';
import { BulkReleaseBar } from './components/Admin/BulkRelease';
import { useAdminFeed } from './components/Admin/AdminStatus';
import { HolderRelease, HolderReleaseDialog, LockActions } from './components/Admin/LockActions';
import { CapabilityBanner } from './components/CapabilityBanner';
import { ConnectionBanner } from './components/ConnectionBanner';
import { ReplicaBanner } from './components/ReplicaStatus';
import { RestartBanner } from './components/RestartBanner';
import { DetailPanel } from './components/DetailPanel/DetailPanel';
import { Header } from './components/Header';
import { LockTable } from './components/LockTable/LockTable';
import { SimulatorPanel } from './components/SimulatorPanel/SimulatorPanel';
import { SummaryBar } from './components/SummaryBar';
import { TargetSwitcher } from './components/TargetSwitcher';
import { Toolbar } from './components/Toolbar';
import { onDemand } from './lib/on-demand';
import { VIEWS, type View } from './store/url-state';
import { useViewStore } from './store/view-store';

const AuditLog = onDemand(() => import('./components/Admin/AuditLog'), (m) => m.AuditLog);

const VIEW_LABEL: Record<View, string> = { locks: 'Locks', audit: 'Audit log' };
const tabId = (v: View) => `tab-${v}`;
const panelId = (v: View) => `tabpanel-${v}`;

export function App() {
  useAdminFeed();
  const view = useViewStore((s) => s.view);
  return (
    <div className="flex h-full flex-col bg-slate-50 text-slate-900 dark:bg-slate-950 dark:text-slate-100">
      <Header />
      <TargetSwitcher />
      <ConnectionBanner />
      <ReplicaBanner />
      <CapabilityBanner />
      <RestartBanner />
      <ViewTabs view={view} />
      {view === 'locks' ? (
        <div role="tabpanel" id={panelId('locks')} aria-labelledby={tabId('locks')} className="relative flex min-h-0 flex-1">
          <main className="flex min-w-0 flex-1 flex-col">
            <SummaryBar />
            <Toolbar />
            <BulkReleaseBar />
            <LockTable />
            <SimulatorPanel />
          </main>
          <DetailPanel actions={(lock) => <LockActions lock={lock} />} holderActions={(lock, holder) => <HolderRelease lock={lock} holder={holder} />} />
          <HolderReleaseDialog />
        </div>
      ) : (
        <main role="tabpanel" id={panelId('audit')} aria-labelledby={tabId('audit')} className="flex min-h-0 flex-1 flex-col">
          <Suspense>
            <AuditLog />
          </Suspense>
        </main>
      )}
      {/* The hidden view's panel stays as an empty target of its tab's aria-controls. */}
      {VIEWS.filter((v) => v !== view).map((v) => (
        <div key={v} role="tabpanel" id={panelId(v)} aria-labelledby={tabId(v)} hidden />
      ))}
    </div>
  );
}

/** The page's views as a tab list (WAI-ARIA tabs: ←/→, Home/End move between tabs and show them). */
function ViewTabs({ view }: { view: View }) {
  const setView = useViewStore((s) => s.setView);
  const list = useRef<HTMLDivElement>(null);
  const onKeyDown = (e: KeyboardEvent) => {
    const i = VIEWS.indexOf(view);
    const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: VIEWS.length - 1 }[e.key];
    if (next === undefined) return;
    e.preventDefault();
    e.stopPropagation();
    const v = VIEWS[(next + VIEWS.length) % VIEWS.length]!;
    setView(v);
    list.current?.querySelector<HTMLElement>(`#${tabId(v)}`)?.focus();
  };
  return (
    <div ref={list} role="tablist" aria-label="Views" onKeyDown={onKeyDown} className="flex gap-1 border-b border-slate-200 px-3 text-sm dark:border-slate-800">
      {VIEWS.map((v) => (
        <button
          key={v}
          id={tabId(v)}
          type="button"
          role="tab"
          aria-selected={view === v}
          aria-controls={panelId(v)}
          tabIndex={view === v ? 0 : -1}
          onClick={() => setView(v)}
          className={`-mb-px border-b-2 px-3 py-1.5 focus-visible:outline-2 focus-visible:-outline-offset-2 focus-visible:outline-sky-500 ${view === v ? 'border-sky-600 font-medium text-slate-900 dark:text-white' : 'border-transparent text-slate-500 hover:text-slate-800 dark:text-slate-400 dark:hover:text-slate-200'}`}
        >
          {VIEW_LABEL[v]}
        </button>
      ))}
    </div>
  );
}
