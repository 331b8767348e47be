// The shell: who is logged in, which screen is shown, the top bar, the offline and update notices,
// and the service worker. Screens live in pages/*.js and export `render(ctx)` returning an element.

import { api, ApiError, checkReachable, NetworkError, SIGNED_OUT_CODES } from "./api.js";
import { h } from "./dom.js";
import { getLang, setLang, t } from "./i18n.js";
import * as checkPage from "./pages/check.js";
import * as homePage from "./pages/home.js";
import * as loginPage from "./pages/login.js";
import * as outboxPage from "./pages/outbox.js";
import * as labelsPage from "./pages/labels.js";
import * as scanPage from "./pages/scan.js";
import * as raisePage from "./pages/raise.js";
import * as workOrdersPage from "./pages/work_orders.js";
import * as boardPage from "./pages/board.js";
import * as calendarPage from "./pages/calendar.js";
import * as statsPage from "./pages/stats.js";
import * as coveragePage from "./pages/coverage.js";
import * as floorPage from "./pages/floor.js";
import * as routePage from "./pages/route.js";
import * as recordsPage from "./pages/records.js";
import * as plansPage from "./pages/plans.js";
import * as violationsPage from "./pages/violations.js";
import * as renovationsPage from "./pages/renovations.js";
import * as acceptancePage from "./pages/acceptance.js";
import * as settlementPage from "./pages/settlement.js";
import * as renovationBoardPage from "./pages/renovation_board.js";
import * as siteRulesPage from "./pages/site_rules.js";
import { countUnsynced } from "./store.js";
import { startSync, stopSync, unsyncedCount } from "./sync.js";

const ME_KEY = "xunjian.me";
const SITE_KEY = "xunjian.site";
const HOME = "/app/home";
const LOGIN = "/app/login";

// ---------------------------------------------------------------------------------------------
// Routes. A screen that a later step adds registers here; the home tiles light up by themselves
// (they ask `hasScreen`), so nothing pretends to exist before it does.

/**
 * @typedef {{
 *   me: any, site: any, offline: boolean,
 *   navigate: (path: string, options?: {replace?: boolean}) => void,
 *   hasScreen: (path: string) => boolean,
 *   signedIn: (me: any) => void,
 *   setSite: (id: number) => void,
 *   params: Record<string, string>,
 * }} Ctx
 * @typedef {{name: string, pattern: RegExp, auth: boolean, render: (ctx: Ctx) => HTMLElement,
 *            title: () => string}} Route
 */

/** @type {Route[]} */
const ROUTES = [
  { name: "login", pattern: /^\/app\/login\/?$/, auth: false, render: loginPage.render,
    title: () => t("login.title") },
  { name: "home", pattern: /^\/app\/home\/?$/, auth: true, render: homePage.render,
    title: () => t("app.name") },
  { name: "scan", pattern: /^\/app\/scan\/?$/, auth: true, render: scanPage.render,
    title: () => t("scan.title") },
  { name: "labels", pattern: /^\/app\/labels\/?$/, auth: true, render: labelsPage.render,
    title: () => t("labels.title") },
  { name: "outbox", pattern: /^\/app\/outbox\/?$/, auth: true, render: outboxPage.render,
    title: () => t("outbox.title") },
  { name: "board", pattern: /^\/app\/board\/?$/, auth: true, render: boardPage.render,
    title: () => t("board.title") },
  { name: "stats", pattern: /^\/app\/work-orders\/stats\/?$/, auth: true, render: statsPage.render,
    title: () => t("stats.title") },
  { name: "calendar", pattern: /^\/app\/calendar\/?$/, auth: true, render: calendarPage.render,
    title: () => t("calendar.title") },
  { name: "floor", pattern: /^\/app\/floors\/(?<id>\d+)\/?$/, auth: true, render: floorPage.render,
    title: () => t("floor.title") },
  { name: "coverage", pattern: /^\/app\/coverage\/?$/, auth: true, render: coveragePage.render,
    title: () => t("cov.title") },
  { name: "route", pattern: /^\/app\/route\/?$/, auth: true, render: routePage.render,
    title: () => t("route.title") },
  { name: "records", pattern: /^\/app\/records\/?$/, auth: true, render: recordsPage.render,
    title: () => t("rec.title") },
  { name: "plans", pattern: /^\/app\/plans\/?$/, auth: true, render: plansPage.renderList,
    title: () => t("plans.title") },
  { name: "plan-new", pattern: /^\/app\/plans\/new\/?$/, auth: true, render: plansPage.renderForm,
    title: () => t("plans.form_new") },
  { name: "plan", pattern: /^\/app\/plans\/(?<id>\d+)\/?$/, auth: true, render: plansPage.renderForm,
    title: () => t("plans.form_edit") },
  { name: "work-orders", pattern: /^\/app\/work-orders\/?$/, auth: true, render: workOrdersPage.renderQueue,
    title: () => t("wo.title") },
  { name: "raise", pattern: /^\/app\/work-orders\/new\/?$/, auth: true, render: raisePage.render,
    title: () => t("raise.title") },
  { name: "work-order", pattern: /^\/app\/work-orders\/(?<id>\d+)\/?$/, auth: true,
    render: workOrdersPage.renderDetail, title: () => t("wo.title") },
  { name: "renovations", pattern: /^\/app\/renovations\/?$/, auth: true, render: renovationsPage.renderList,
    title: () => t("ren.title") },
  { name: "renovation-board", pattern: /^\/app\/renovations\/board\/?$/, auth: true,
    render: renovationBoardPage.render, title: () => t("rb.title") },
  { name: "renovation-rules", pattern: /^\/app\/renovations\/rules\/?$/, auth: true,
    render: siteRulesPage.render, title: () => t("rules.title") },
  { name: "renovation-new", pattern: /^\/app\/renovations\/new\/?$/, auth: true,
    render: renovationsPage.renderNew, title: () => t("ren.new") },
  { name: "renovation", pattern: /^\/app\/renovations\/(?<id>\d+)\/?$/, auth: true,
    render: renovationsPage.renderDetail, title: () => t("ren.title") },
  { name: "acceptance", pattern: /^\/app\/renovations\/(?<id>\d+)\/acceptance\/(?<kind>hidden_works|completion)\/?$/,
    auth: true, render: acceptancePage.render, title: () => t("acc.screen") },
  { name: "settlement", pattern: /^\/app\/renovations\/(?<id>\d+)\/settlement\/?$/, auth: true,
    render: settlementPage.render, title: () => t("set.title") },
  { name: "violations", pattern: /^\/app\/violations\/?$/, auth: true, render: violationsPage.renderList,
    title: () => t("vio.title") },
  { name: "violation", pattern: /^\/app\/violations\/(?<id>\d+)\/?$/, auth: true,
    render: violationsPage.renderDetail, title: () => t("vio.notice_title") },
  { name: "checkpoint", pattern: /^\/c\/(?<code>[^/]+)\/?$/, auth: true, render: checkPage.render,
    title: () => t("checkpoint.title") },
];

function findRoute(path) {
  for (const route of ROUTES) {
    const match = route.pattern.exec(path);
    if (match) return { route, params: match.groups || {} };
  }
  return null;
}

/** Whether the shell has a screen at `path` (e.g. "/app/scan"). */
export function hasScreen(path) {
  return findRoute(path) !== null;
}

/** A place to return to after login: only this app's own screens, never another origin. */
function safeNext(value) {
  if (!value || !value.startsWith("/") || value.startsWith("//") || value.startsWith("/\\")) {
    return null;
  }
  const url = new URL(value, location.origin);
  if (url.origin !== location.origin) return null;
  const found = findRoute(url.pathname);
  if (!found || found.route.name === "login") return null;
  return url.pathname + url.search;
}

/** The login screen, remembering where the person wanted to go (home needs no reminder). */
function loginUrl(next) {
  return next === HOME ? LOGIN : `${LOGIN}?next=${encodeURIComponent(next)}`;
}

// ---------------------------------------------------------------------------------------------
// State

const state = {
  /** @type {any} the Me object from /api/me, or null when logged out */
  me: null,
  offline: false,
  /** @type {ServiceWorker | null} a new version waiting to take over */
  waitingWorker: null,
  updateAccepted: false,
  firstRender: true,
};

function readJSON(key) {
  try {
    const text = localStorage.getItem(key);
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

function writeJSON(key, value) {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // storage full or blocked: the app still works for this visit
  }
}

/** Kept so the app opens offline for the last person who logged in; cleared on logout. */
function rememberMe(me) {
  state.me = me;
  writeJSON(ME_KEY, me);
}

function currentSite() {
  const sites = state.me?.sites || [];
  const chosen = Number(readJSON(SITE_KEY));
  return sites.find((s) => s.id === chosen) || sites[0] || null;
}

// ---------------------------------------------------------------------------------------------
// Layout: top bar, notices, main. Built once; their contents are redrawn.

const root = /** @type {HTMLElement} */ (document.getElementById("app"));
const topbar = h("header", { class: "topbar", "data-testid": "topbar" });
const offlineBanner = h("div", { class: "notice notice-offline", role: "status",
  "data-testid": "offline-banner", hidden: true });
const updateBar = h("div", { class: "notice notice-update", role: "status",
  "data-testid": "update-bar", hidden: true });
const main = h("main", { id: "main", class: "page", tabindex: "-1" });

function drawTopbar() {
  const site = state.me ? currentSite() : null;
  topbar.replaceChildren(
    h("div", { class: "topbar-title" },
      h("span", { class: "topbar-app" }, t("app.name")),
      site ? h("span", { class: "topbar-site", "data-testid": "topbar-site" }, site.name) : null),
    h("div", { class: "topbar-actions" },
      state.me && unsyncedCount() > 0
        ? h("a", { class: "btn btn-bar outbox-badge", href: "/app/outbox", "data-testid": "outbox-badge",
          "aria-label": t("outbox.badge_label", { n: unsyncedCount() }) },
          h("span", { class: "outbox-badge-count" }, String(unsyncedCount())))
        : null,
      h("button", {
        type: "button", class: "btn btn-bar", lang: getLang() === "en" ? "zh-CN" : "en",
        "aria-label": t("lang.switch_label"), "data-testid": "lang-switch",
        onclick: () => {
          setLang(getLang() === "en" ? "zh-CN" : "en");
          drawAll();
        },
      }, t("lang.switch")),
      state.me ? h("button", { type: "button", class: "btn btn-bar", "data-testid": "logout",
        onclick: logout }, t("nav.logout")) : null));
}

function drawNotices() {
  offlineBanner.hidden = !state.offline;
  offlineBanner.textContent = t("net.offline");
  updateBar.hidden = !state.waitingWorker;
  updateBar.replaceChildren(
    h("span", { class: "notice-text" }, t("update.available")),
    h("button", { type: "button", class: "btn btn-notice", "data-testid": "update-apply",
      onclick: applyUpdate }, t("update.apply")));
}

function drawAll() {
  drawTopbar();
  drawNotices();
  drawRoute();
}

/** A short message at the bottom of the screen (e.g. "cannot log out while offline"). */
function toast(message) {
  const el = h("div", { class: "toast", role: "alert", "data-testid": "toast" }, message);
  document.body.append(el);
  setTimeout(() => el.remove(), 6000);
}

// ---------------------------------------------------------------------------------------------
// Routing

/** @param {string} path @param {{replace?: boolean}} [options] */
function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  drawAll();
}

function drawRoute() {
  const path = location.pathname;
  const found = findRoute(path);
  if (!found) {
    // "/", "/app" and any screen this version does not have yet land on home.
    history.replaceState(null, "", HOME);
    return drawRoute();
  }
  const { route, params } = found;
  const search = new URLSearchParams(location.search);
  if (route.auth && !state.me) {
    history.replaceState(null, "", loginUrl(path + location.search));
    return drawRoute();
  }
  if (route.name === "login" && state.me) {
    history.replaceState(null, "", safeNext(search.get("next")) || HOME);
    return drawRoute();
  }
  /** @type {Ctx} */
  const ctx = {
    me: state.me,
    site: state.me ? currentSite() : null,
    offline: state.offline,
    navigate,
    hasScreen,
    params,
    signedIn(me) {
      rememberMe(me);
      state.offline = false;
      startSync(me);
      navigate(safeNext(search.get("next")) || HOME, { replace: true });
    },
    setSite(id) {
      writeJSON(SITE_KEY, id);
      drawAll();
    },
  };
  main.dataset.screen = route.name;
  main.replaceChildren(route.render(ctx));
  document.title = `${route.title()} · ${t("app.name")}`;
  if (!state.firstRender) main.focus({ preventScroll: true });
  state.firstRender = false;
  window.scrollTo(0, 0);
}

/** Same-origin links to screens of this shell change screen without loading the page again. */
document.addEventListener("click", (event) => {
  if (event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const link = /** @type {Element} */ (event.target).closest?.("a[href]");
  if (!link || link.hasAttribute("target") || link.hasAttribute("download")) return;
  const url = new URL(/** @type {HTMLAnchorElement} */ (link).href);
  if (url.origin !== location.origin || !hasScreen(url.pathname)) return;
  event.preventDefault();
  navigate(url.pathname + url.search);
});

window.addEventListener("popstate", drawAll);

// ---------------------------------------------------------------------------------------------
// Session

async function logout() {
  // Unsynced records stay on the phone whatever happens; the person is told before leaving.
  let unsynced = unsyncedCount();
  try {
    if (state.me) unsynced = await countUnsynced(state.me.id);
  } catch {
    // storage unreadable: use the last known count
  }
  if (unsynced > 0 && !window.confirm(t("outbox.logout_confirm", { n: unsynced }))) return;
  try {
    await api("/api/auth/logout", { method: "POST" });
  } catch (error) {
    if (error instanceof NetworkError) {
      // The session cookie lives on the server side of an HttpOnly cookie; logging out only
      // locally would leave it valid on a shared phone. Say so rather than pretend.
      toast(t("error.offline"));
      return;
    }
    if (!(error instanceof ApiError && SIGNED_OUT_CODES.has(error.code))) {
      toast(error instanceof ApiError && error.message ? error.message : t("error.generic"));
      return;
    }
  }
  stopSync();
  rememberMe(null);
  navigate(LOGIN, { replace: true });
}

/** A request answered "log in again" (session expired or revoked): go to login, then come back. */
window.addEventListener("xunjian:unauthenticated", () => {
  if (!state.me) return;
  rememberMe(null);
  navigate(loginUrl(location.pathname + location.search), { replace: true });
});

// ---------------------------------------------------------------------------------------------
// Online / offline: decided by real requests (api.js), not by navigator.onLine alone.

function setOffline(offline) {
  if (state.offline === offline) return;
  state.offline = offline;
  drawNotices();
}

window.addEventListener("xunjian:network", (event) => {
  setOffline(!(/** @type {CustomEvent} */ (event).detail.online));
});
// The phone losing its network is reliable news; the phone "having" network is only a hint.
window.addEventListener("offline", () => setOffline(true));
window.addEventListener("online", async () => setOffline(!(await checkReachable())));

// ---------------------------------------------------------------------------------------------
// Service worker and updates. A new version installs in the background and waits; the person
// chooses when to switch, and not while work would be lost (see blockUpdatesWhile).

/** @type {Set<() => boolean>} */
const updateBlockers = new Set();

/**
 * Hold back "update now" while `isBusy()` is true (a dirty form, a non-empty outbox).
 * @param {() => boolean} isBusy
 * @returns {() => void} call to remove the blocker
 */
export function blockUpdatesWhile(isBusy) {
  updateBlockers.add(isBusy);
  return () => updateBlockers.delete(isBusy);
}

// Records not yet on the server: the new version waits (it might change how they are stored).
blockUpdatesWhile(() => unsyncedCount() > 0);
// The outbox count in the top bar follows the sync engine.
let badgeShown = 0;
window.addEventListener("xunjian:outbox", () => {
  if (!state.me || unsyncedCount() === badgeShown) return;
  badgeShown = unsyncedCount();
  drawTopbar();
});

function applyUpdate() {
  const worker = state.waitingWorker;
  if (!worker) return;
  if ([...updateBlockers].some((isBusy) => isBusy())) {
    toast(t("update.blocked"));
    return;
  }
  state.updateAccepted = true;
  worker.postMessage({ type: "SKIP_WAITING" });
}

function offerUpdate(worker) {
  state.waitingWorker = worker;
  drawNotices();
}

async function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) return;
  // Reload only when the person asked for the update; the first install also changes the
  // controller (clients.claim) and must not reload the page under them.
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    if (state.updateAccepted) location.reload();
  });
  let registration;
  try {
    registration = await navigator.serviceWorker.register("/sw.js", { scope: "/" });
  } catch (error) {
    console.warn("service worker registration failed", error);
    return;
  }
  if (registration.waiting && navigator.serviceWorker.controller) {
    offerUpdate(registration.waiting);
  }
  registration.addEventListener("updatefound", () => {
    const worker = registration.installing;
    if (!worker) return;
    worker.addEventListener("statechange", () => {
      if (worker.state === "installed" && navigator.serviceWorker.controller) offerUpdate(worker);
    });
  });
  // A phone keeps the app open for a whole shift: look for a new version when it comes back to it.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") registration.update().catch(() => {});
  });
}

// ---------------------------------------------------------------------------------------------
// Start

async function start() {
  setLang(getLang());
  root.replaceChildren(topbar, offlineBanner, updateBar, main);
  registerServiceWorker();
  try {
    rememberMe(await api("/api/me"));
  } catch (error) {
    if (error instanceof NetworkError) {
      // Offline cold start: carry on as the last person who logged in on this phone.
      state.me = readJSON(ME_KEY);
    } else if (error instanceof ApiError && SIGNED_OUT_CODES.has(error.code)) {
      rememberMe(null);
    } else {
      state.me = readJSON(ME_KEY);
      toast(error instanceof ApiError && error.message ? error.message : t("error.generic"));
    }
  }
  drawAll();
  if (state.me) startSync(state.me);
}

start();
