import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// Served by Herald at /console (src/Herald.Server/WebConsole); every asset is bundled and hashed, nothing is inlined
// into index.html, so the page runs under a Content-Security-Policy without 'unsafe-inline'.
export default defineConfig({
  base: "/console/",
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsInlineLimit: 0,
    sourcemap: false,
    chunkSizeWarningLimit: 600,
  },
  server: {
    // `npm run dev` against a Herald on :5000: same-origin cookies through the proxy.
    proxy: { "/v1": "http://localhost:5000", "/console/session": "http://localhost:5000" },
  },
});
