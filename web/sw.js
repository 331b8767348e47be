// Xunjian's service worker: keeps the app shell on the phone so the app opens with no network.
//
// - One cache per version, named PREFIX + VERSION. Bump VERSION whenever a file in SHELL changes;
//   the new worker installs beside the old one and waits until the page tells it to take over
//   ({type: "SKIP_WAITING"}), which the page does only when no work would be lost.
// - install: cache.addAll(SHELL), so one missing file fails the whole install (never half a shell).
// - activate: delete this app's older caches (PREFIX match only), then claim open pages.
// - fetch: page navigations inside the app → network first with a short timeout, else the cached
//   shell; /static/ and /vendor/ → cache first; /api/ → not touched (network only; the page
//   handles offline itself). Everything else goes to the network as if there were no worker.

const VERSION = "10";
const PREFIX = "xunjian-shell-";
const CACHE = `${PREFIX}v${VERSION}`;

/** How long a navigation waits for the network before the cached shell is shown. */
const NAVIGATION_TIMEOUT_MS = 3000;

const SHELL = [
  "/",
  "/manifest.webmanifest",
  "/static/styles.css",
  "/static/app.js",
  "/static/api.js",
  "/static/dom.js",
  "/static/i18n.js",
  "/static/pages/login.js",
  "/static/pages/home.js",
  "/static/pages/scan.js",
  "/static/pages/labels.js",
  "/static/pages/check.js",
  "/static/photos.js",
  "/static/photo_field.js",
  "/static/scan-worker.js",
  "/static/store.js",
  "/static/sync.js",
  "/static/pages/outbox.js",
  "/static/pages/work_orders.js",
  "/static/pages/raise.js",
  "/static/signature.js",
  "/static/pages/board.js",
  "/static/pages/calendar.js",
  "/static/pages/stats.js",
  "/static/pages/coverage.js",
  "/static/pages/floor.js",
  "/static/pages/route.js",
  "/static/pages/records.js",
  "/static/pages/plans.js",
  "/static/pages/violations.js",
  "/static/pages/renovations.js",
  "/static/pages/acceptance.js",
  "/static/pages/settlement.js",
  "/static/pages/renovation_glance.js",
  "/static/pages/renovation_board.js",
  "/static/pages/site_rules.js",
  "/vendor/idb/build/index.js",
  "/vendor/jsqr/dist/jsQR.js",
  "/static/icons/icon-192.png",
  "/static/icons/icon-512.png",
  "/static/icons/maskable-192.png",
  "/static/icons/maskable-512.png",
  "/static/icons/apple-touch-icon.png",
  "/static/icons/favicon-32.png",
];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) =>
      // cache: "reload" skips the browser's HTTP cache, so the new version gets new files.
      cache.addAll(SHELL.map((url) => new Request(url, { cache: "reload" }))),
    ),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      const names = await caches.keys();
      await Promise.all(
        names.filter((name) => name.startsWith(PREFIX) && name !== CACHE).map((name) => caches.delete(name)),
      );
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "SKIP_WAITING") self.skipWaiting();
});

// Background Sync (Chromium): the network is back. The outbox lives in the pages' IndexedDB code,
// so the worker asks every open page to sync; with no page open, the next app start sends it.
self.addEventListener("sync", (event) => {
  if (event.tag !== "xunjian-outbox") return;
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
      for (const client of windows) client.postMessage({ type: "xunjian-sync" });
    }),
  );
});

/** Paths whose navigations are the app's own screens (the server sends index.html for them). */
function isAppNavigation(path) {
  return path === "/" || path === "/app" || path.startsWith("/app/") || path.startsWith("/c/");
}

async function cachedShell() {
  const cache = await caches.open(CACHE);
  return cache.match("/");
}

/**
 * Network first, so an online phone always sees the server's current answer; after
 * NAVIGATION_TIMEOUT_MS, on a network error or a server error (5xx, e.g. a proxy whose backend is
 * down) the cached shell is shown instead. The shell itself routes by location.pathname, so "/"
 * serves every app URL.
 */
async function navigate(request) {
  const network = fetch(request);
  const timeout = new Promise((resolve) => setTimeout(resolve, NAVIGATION_TIMEOUT_MS, null));
  try {
    const response = await Promise.race([network, timeout]);
    if (response && response.status < 500) return response;
  } catch {
    // offline or connection refused: fall through to the cached shell
  }
  network.catch(() => {}); // a late failure of the abandoned request is expected, not an error
  const shell = await cachedShell();
  if (shell) return shell;
  return network; // nothing cached yet (first visit): the network's answer or its error
}

/** Cache first; a file not in the shell list is fetched once and kept for this version. */
async function cacheFirst(request) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(request);
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok) cache.put(request, response.clone());
  return response;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  const path = url.pathname;
  if (path.startsWith("/api/")) return; // never cached: the page decides what offline means

  if (request.mode === "navigate") {
    if (isAppNavigation(path)) event.respondWith(navigate(request));
    return; // /admin/ and other server pages: straight to the network
  }
  if (path.startsWith("/static/") || path.startsWith("/vendor/") || path === "/manifest.webmanifest") {
    event.respondWith(cacheFirst(request));
  }
});
