import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import './index.css';
import { SocketProvider } from './socket/SocketProvider';
import { connectViewState } from './store/view-store';
import { initTheme } from './theme/theme';

initTheme();
connectViewState();

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <SocketProvider>
      <App />
    </SocketProvider>
  </StrictMode>,
);
