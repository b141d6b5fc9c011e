import { ConnectionBanner } from './components/ConnectionBanner';
import { Header } from './components/Header';
import { LockTable } from './components/LockTable/LockTable';

export function App() {
  return (
    <div className="flex h-full flex-col bg-slate-50 text-slate-900 dark:bg-slate-950 dark:text-slate-100">
      <Header />
      <ConnectionBanner />
      <main className="flex min-h-0 flex-1 flex-col">
        <LockTable />
      </main>
    </div>
  );
}
