import tailwindcss from '@tailwindcss/vite';
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';
import { constants } from 'node:zlib';
import { defineConfig } from 'vite';
import { compression, defineAlgorithm } from 'vite-plugin-compression2';

const root = fileURLToPath(new URL('.', import.meta.url));
/** In `npm run dev:client`, API and socket traffic goes to a lockscope server started separately. */
const backend = process.env.LOCKSCOPE_URL ?? 'http://127.0.0.1:7070';

export default defineConfig({
  root,
  // Relative URLs everywhere (index.html's assets, chunks loaded on demand): one build serves under any path, at
  // the root, under BASE_PATH or mounted into another Express app, whatever a reverse proxy does to the prefix.
  base: './',
  plugins: [
    react(),
    tailwindcss(),
    // Compressed once at build, at the highest levels (the server then sends the .br or .gz next to each file).
    compression({
      algorithms: [
        defineAlgorithm('brotliCompress', { params: { [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY } }),
        defineAlgorithm('gzip', { level: constants.Z_BEST_COMPRESSION }),
      ],
      threshold: 1024,
      logLevel: 'silent',
    }),
  ],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 1024,
    rolldownOptions: {
      // The code the first paint needs in one chunk (React DOM's renderer stays apart: see react-dom-client.ts), and
      // each part loaded on demand in its own: not a dozen small shared chunks, each a request of its own.
      output: { codeSplitting: { groups: [{ name: 'index', tags: ['$initial'] }] } },
    },
  },
  server: {
    proxy: {
      '/socket.io': { target: backend, ws: true },
      '/api': backend,
      '/healthz': backend,
      '/metrics': backend,
    },
  },
});
