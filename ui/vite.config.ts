/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// The app embeds ui/dist at compile time; there is no dev server in the loop, so the build
// must stand alone: relative asset paths, no inline scripts (the CSP forbids them).
export default defineConfig(({ mode }) => ({
  plugins: [svelte()],
  base: './',
  clearScreen: false,
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0,
  },
  // Vitest runs in jsdom: resolve Svelte's browser build, not its server build.
  resolve: mode === 'test' ? { conditions: ['browser'] } : {},
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.ts'],
  },
}));
