import { defineConfig, type Plugin } from 'vite'
import { CLOSE_CODES } from './src/closeCodes'

/**
 * The hub serves `dist/` at `/`, so assets use relative paths.
 * `npm run dev` proxies the board websocket to a hub at CALMA_HUB (default 127.0.0.1:8000).
 */
const hub = process.env['CALMA_HUB'] ?? 'http://127.0.0.1:8000'

/** Fail the build early when shared_schema/close_codes.json does not parse (src/closeCodes.ts checks it). */
function checkCloseCodes (): Plugin {
  return {
    name: 'calma-check-close-codes',
    buildStart () {
      if (CLOSE_CODES.size === 0) this.error('shared_schema/close_codes.json defines no close codes')
    },
  }
}

export default defineConfig({
  base: './',
  plugins: [checkCloseCodes()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
  },
  server: {
    // src/closeCodes.ts imports ../shared_schema/close_codes.json
    fs: { allow: ['..'] },
    proxy: {
      '/rooms': { target: hub, ws: true },
    },
  },
})
