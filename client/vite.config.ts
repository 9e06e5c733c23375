import { resolve } from 'node:path'
import { defineConfig, type Plugin } from 'vite'
import { CLOSE_CODES } from './src/closeCodes'

/**
 * The hub serves `dist/` at `/`, so assets use relative paths. Ten pages: the board (`/`), the
 * facilitator console (`/console/`), the invite page (`/join/?token=`), the participant's
 * overview (`/me/`), Familiarize (`/familiarize/`), their chat with the model (`/interact/`), Reflect (`/reflect/`),
 * the group's semantic canvas (`/canvas/`), the live Discuss session (`/discuss/`) and the participant's A/B
 * comparison of two blind replies (`/ab/`).
 * `npm run dev` proxies the websockets and the API to a hub at CALMA_HUB (default 127.0.0.1:8000).
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
    rolldownOptions: {
      input: {
        board: resolve(import.meta.dirname, 'index.html'),
        console: resolve(import.meta.dirname, 'console/index.html'),
        join: resolve(import.meta.dirname, 'join/index.html'),
        me: resolve(import.meta.dirname, 'me/index.html'),
        interact: resolve(import.meta.dirname, 'interact/index.html'),
        familiarize: resolve(import.meta.dirname, 'familiarize/index.html'),
        reflect: resolve(import.meta.dirname, 'reflect/index.html'),
        canvas: resolve(import.meta.dirname, 'canvas/index.html'),
        discuss: resolve(import.meta.dirname, 'discuss/index.html'),
        ab: resolve(import.meta.dirname, 'ab/index.html'),
      },
    },
  },
  server: {
    // src/closeCodes.ts imports ../shared_schema/close_codes.json
    fs: { allow: ['..'] },
    proxy: {
      '/rooms': { target: hub, ws: true },
      '/live': { target: hub, ws: true },
      '/api': { target: hub },
    },
  },
})
