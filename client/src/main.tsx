import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import './index.css';
import { SocketProvider } from './socket/SocketProvider';
import { diagnostics } from './store/lock-store';
import { connectViewState } from './store/view-store';
import { initTheme } from './theme/theme';

initTheme();
connectViewState();
(window as unknown as { __lockscope: typeof diagnostics }).__lockscope = diagnostics;

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <SocketProvider>
      <App />
    </SocketProvider>
  </StrictMode>,
);
