import { startTransition, StrictMode } from 'react';
import type { createRoot } from 'react-dom/client';
import { App } from './App';
import { loadOnDemandCodeWhenIdle } from './lib/on-demand';
import { SocketProvider } from './socket/SocketProvider';
import { diagnostics } from './store/lock-store';
import { connectViewState } from './store/view-store';

/** Renders the dashboard into #root with React DOM's `createRoot` (a chunk of its own: see react-dom-client.ts). */
export function mountDashboard(create: typeof createRoot): void {
  connectViewState();
  (window as unknown as { __lockscope: typeof diagnostics }).__lockscope = diagnostics;
  const root = create(document.getElementById('root')!);
  // A transition renders in slices that yield to the browser: the first render is not one long task.
  startTransition(() =>
    root.render(
      <StrictMode>
        <SocketProvider>
          <App />
        </SocketProvider>
      </StrictMode>,
    ),
  );
  loadOnDemandCodeWhenIdle();
}
