import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const here = fileURLToPath(new URL('.', import.meta.url));

/** The console is built once (`npm run build`) into dist/console, which the server serves at `/`. */
export default defineConfig({
  root: here,
  base: '/',
  plugins: [react()],
  // The typed client from its source, as the package exports it (`kairo/client`).
  resolve: { alias: { 'kairo/client': fileURLToPath(new URL('../src/client/index.ts', import.meta.url)) } },
  publicDir: false,
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../dist/console', import.meta.url)),
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    // One bundle of about 780 kB (230 kB compressed), most of it React and Recharts.
    chunkSizeWarningLimit: 1000,
  },
});
