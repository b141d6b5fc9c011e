// First, so that React DOM's chunk is being fetched while the rest of this module graph is evaluated.
import { reactDomClient } from './react-dom-client';
import './index.css';
import { mountDashboard } from './dashboard';
import { initTheme } from './theme/theme';

// Before anything paints: no flash of the other theme.
initTheme();
// Not a top-level await: React DOM's chunk imports React from this one, which must finish evaluating first.
void reactDomClient.then(({ createRoot }) => mountDashboard(createRoot));
