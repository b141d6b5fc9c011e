import { startTransition, StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { loadOnDemandCodeWhenIdle } from './lib/on-demand';
import './index.css';
import { SocketProvider } from './socket/SocketProvider';
import { diagnostics } from './store/lock-store';
import { connectViewState } from './store/view-store';
import { initTheme } from './theme/theme';

initTheme();
connectViewState();
(window as unknown as { __lockscope: typeof diagnostics }).__lockscope = diagnostics;

const root = createRoot(document.getElementById('root')!);
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
