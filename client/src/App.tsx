import { ConnectionBanner } from './components/ConnectionBanner';
import { DetailPanel } from './components/DetailPanel/DetailPanel';
import { Header } from './components/Header';
import { LockTable } from './components/LockTable/LockTable';
import { SimulatorPanel } from './components/SimulatorPanel/SimulatorPanel';
import { SummaryBar } from './components/SummaryBar';
import { Toolbar } from './components/Toolbar';

export function App() {
  return (
    <div className="flex h-full flex-col bg-slate-50 text-slate-900 dark:bg-slate-950 dark:text-slate-100">
      <Header />
      <ConnectionBanner />
      <div className="relative flex min-h-0 flex-1">
        <main className="flex min-w-0 flex-1 flex-col">
          <SummaryBar />
          <Toolbar />
          <LockTable />
          <SimulatorPanel />
        </main>
        {/* Admin actions plug in here: <DetailPanel actions={(lock) => <AdminActions lock={lock} />} /> */}
        <DetailPanel />
      </div>
    </div>
  );
}
