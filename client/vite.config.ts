import tailwindcss from '@tailwindcss/vite';
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));
/** In `npm run dev:client`, API and socket traffic goes to a lockscope server started separately. */
const backend = process.env.LOCKSCOPE_URL ?? 'http://127.0.0.1:7070';

export default defineConfig({
  root,
  plugins: [react(), tailwindcss()],
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 1024 },
  server: {
    proxy: {
      '/socket.io': { target: backend, ws: true },
      '/api': backend,
      '/healthz': backend,
      '/metrics': backend,
    },
  },
});
