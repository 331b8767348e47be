// The sync engine: sends the outbox (store.js) to the server and keeps the catalogue fresh.
//
// - Triggers: app start / login (startSync), the phone coming online, the app becoming visible, a
//   foreground timer, a record being saved, and Background Sync where the browser has it (the
//   service worker's `sync` event asks open pages to sync, see sw.js).
// - One sync at a time: a re-entrancy guard in this page, and across tabs the Web Locks API
//   (navigator.locks, lock "xunjian-sync", ifAvailable) or, without it, a short lease in
//   localStorage.
// - Per record: each photo not yet acknowledged is PUT to /api/photos/<sha256> (200/201 = the server
//   has it), then records whose photos are all up go to POST /api/sync, up to BATCH at a time.
//   accepted/duplicate → "synced" (kept a while for the person to see, then deleted with its
//   photos); rejected missing_photo → its photos are sent again; any other rejection → "rejected"
//   with the server's code and reason, kept until the person deletes it.
// - No answer, 5xx or 429: nothing changes except a capped exponential backoff with jitter for the
//   records concerned (a 500 is never taken as delivered). 401: stop, ask the person to log in
//   (the "xunjian:unauthenticated" event), carry on after login with nothing lost.
// - Work-order steps and raised orders (store.js, `kind`) go one request each, after the checks,
//   oldest first, photos first; the record's id is the body's client_id, so a repeat is answered
//   200 and stored once. 4xx is final ("rejected" with the server's message), 5xx/429/no answer
//   backs off; a step waits while an earlier step of the same order is unsent.
// - Queued requests (store.js queueRequest, kind "request": renovation steps, workers, violations'
//   re-inspection, acceptance sign-offs …) go the same way, to their own path; the order of one
//   `group` is kept like an order's steps. After success "xunjian:request-synced" fires and the
//   onRequestSynced handlers get the server's answer.
// - Only the logged-in person's records are sent (records carry user_id).
// - Emits window event "xunjian:outbox" {detail: {unsynced, running, lastError, lastSyncAt}}.

import { api, ApiError, NetworkError, SIGNED_OUT_CODES } from "./api.js";
import * as store from "./store.js";

const LOCK_NAME = "xunjian-sync";
const LEASE_KEY = "xunjian.sync.lease";
const LEASE_MS = 30_000;
export const BATCH = 100;
export const BACKOFF_MIN_MS = 5_000;
export const BACKOFF_MAX_MS = 10 * 60_000;
const TIMER_MS = 60_000;
const PHOTO_TIMEOUT_MS = 120_000;
const SYNC_TIMEOUT_MS = 60_000;
const BACKGROUND_TAG = "xunjian-outbox";
const TAB_ID = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;

/** Why a sync stopped before the end: no network, or the session is gone. */
class Stop extends Error {
  /** @param {"offline" | "signed_out"} reason */
  constructor(reason) {
    super(reason);
    this.reason = reason;
  }
}

const state = {
  /** @type {any} the logged-in person (Me), or null */
  user: null,
  signedOut: false,
  /** @type {Promise<void> | null} */
  running: null,
  again: false,
  force: false,
  wired: false,
  unsynced: 0,
  /** @type {number | null} */
  lastSyncAt: null,
  /** @type {null | "offline" | "signed_out" | "server" | "busy"} */
  lastError: null,
  /** @type {ReturnType<typeof setTimeout> | null} */
  soon: null,
  /** @type {BroadcastChannel | null} */
  channel: null,
};

/** The last known number of unsynced records of the logged-in person (for synchronous checks). */
export function unsyncedCount() {
  return state.unsynced;
}

export function syncState() {
  return { unsynced: state.unsynced, running: Boolean(state.running), lastError: state.lastError,
    lastSyncAt: state.lastSyncAt };
}

function emit() {
  window.dispatchEvent(new CustomEvent("xunjian:outbox", { detail: syncState() }));
}

let countPending = false;
/** Count again (coalesced: many store changes in a row cost one count). */
function refreshCount() {
  if (countPending) return;
  countPending = true;
  queueMicrotask(async () => {
    countPending = false;
    try {
      state.unsynced = state.user ? await store.countUnsynced(state.user.id) : 0;
    } catch {
      return; // storage unavailable: keep the last number
    }
    emit();
  });
}

/** Exponential from BACKOFF_MIN_MS, capped at BACKOFF_MAX_MS, with jitter (half to full delay). */
export function backoffDelay(attempts) {
  const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.max(0, attempts - 1));
  return Math.round(delay * (0.5 + Math.random() * 0.5));
}

// ---------------------------------------------------------------------------------------------
// Wiring

/**
 * Start (or resume after a login) syncing for `me`. Safe to call more than once.
 * @param {any} me  the Me object from /api/me
 */
export function startSync(me) {
  state.user = me;
  state.signedOut = false;
  if (state.lastError === "signed_out") state.lastError = null;
  if (!state.wired) wire();
  refreshCount();
  syncNow();
}

/** Logged out: stop sending (the outbox itself stays on the phone). */
export function stopSync() {
  state.user = null;
  state.unsynced = 0;
  emit();
}

function wire() {
  state.wired = true;
  window.addEventListener("online", () => syncNow());
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") syncNow();
  });
  setInterval(() => {
    if (document.visibilityState === "visible") syncNow();
  }, TIMER_MS);
  window.addEventListener("xunjian:record-saved", () => {
    refreshCount();
    registerBackgroundSync();
    syncNow();
  });
  window.addEventListener("xunjian:store-changed", () => {
    refreshCount();
    state.channel?.postMessage({ type: "changed" });
  });
  window.addEventListener("xunjian:unauthenticated", () => {
    state.signedOut = true;
  });
  if ("BroadcastChannel" in window) {
    // Another tab's sync changed the records: show the same numbers here.
    state.channel = new BroadcastChannel("xunjian-outbox");
    state.channel.onmessage = () => refreshCount();
  }
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.addEventListener("message", (event) => {
      if (event.data && event.data.type === "xunjian-sync") syncNow();
    });
  }
}

/** Ask the browser to wake the service worker when the network returns (Chromium has it). */
async function registerBackgroundSync() {
  if (!("serviceWorker" in navigator)) return;
  try {
    const registration = await navigator.serviceWorker.ready;
    const sync = /** @type {any} */ (registration).sync;
    if (sync) await sync.register(BACKGROUND_TAG);
  } catch {
    // not allowed or not supported: the other triggers still sync
  }
}

// ---------------------------------------------------------------------------------------------
// One sync at a time

/**
 * Sync now (or right after the sync that is running). `force` ignores the records' backoff
 * (the person pressed "sync now" / "retry").
 * @param {{force?: boolean}} [options]
 * @returns {Promise<void>}
 */
export function syncNow({ force = false } = {}) {
  if (force) state.force = true;
  if (state.running) {
    state.again = true;
    return state.running;
  }
  state.running = (async () => {
    emit();
    try {
      let rounds = 0;
      do {
        state.again = false;
        await withLock(drain);
        rounds += 1;
      } while (state.again && rounds < 5 && state.user && !state.signedOut && state.lastError !== "offline");
    } catch (error) {
      console.warn("sync failed", error);
    } finally {
      state.running = null;
      refreshCount();
      emit();
    }
  })();
  return state.running;
}

/** Run `fn` holding the cross-tab sync lock; if another tab holds it, try again a little later. */
async function withLock(fn) {
  const locks = /** @type {any} */ (navigator).locks;
  if (locks && locks.request) {
    return locks.request(LOCK_NAME, { ifAvailable: true }, async (lock) => {
      if (!lock) return busy();
      return fn();
    });
  }
  // No Web Locks: a lease in localStorage (renewed while this tab syncs).
  const now = Date.now();
  const lease = readLease();
  if (lease && lease.owner !== TAB_ID && lease.until > now) return busy();
  writeLease(now);
  // localStorage reaches other tabs a moment later: wait, then see whose lease survived.
  await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 150));
  if (readLease()?.owner !== TAB_ID) return busy();
  const renew = setInterval(() => writeLease(Date.now()), LEASE_MS / 3);
  try {
    return await fn();
  } finally {
    clearInterval(renew);
    if (readLease()?.owner === TAB_ID) localStorage.removeItem(LEASE_KEY);
  }
}

function readLease() {
  try {
    return JSON.parse(localStorage.getItem(LEASE_KEY) || "null");
  } catch {
    return null;
  }
}

function writeLease(now) {
  try {
    localStorage.setItem(LEASE_KEY, JSON.stringify({ owner: TAB_ID, until: now + LEASE_MS }));
  } catch {
    // storage blocked: this tab syncs without a lease
  }
}

function busy() {
  // The other tab sends the same outbox; look again shortly for records saved meanwhile.
  state.lastError = "busy";
  scheduleSoon(BACKOFF_MIN_MS);
}

function scheduleSoon(delay) {
  if (state.soon) clearTimeout(state.soon);
  state.soon = setTimeout(() => {
    state.soon = null;
    syncNow();
  }, Math.max(0, delay));
}

// ---------------------------------------------------------------------------------------------
// The drain

async function drain() {
  const user = state.user;
  if (!user || state.signedOut) return;
  const force = state.force;
  state.force = false;
  try {
    await refreshCatalogue(user);
    // We hold the lock: a record still "sending" was left by a tab that closed mid-way.
    const mine = (await store.listRecords()).filter((row) => row.user_id === user.id);
    for (const row of mine) {
      if (row.status === "sending") await store.updateRecord(row.id, { status: "pending" });
    }
    const now = Date.now();
    const due = mine
      .filter((row) => (row.status === "pending" || row.status === "sending")
        && (force || (row.next_try_at || 0) <= now))
      .sort((a, b) => a.saved_at - b.saved_at);
    state.lastError = null;
    const checks = due.filter((row) => !store.REQUEST_KINDS.has(row.record.kind));
    for (let i = 0; i < checks.length; i += BATCH) {
      const chunk = checks.slice(i, i + BATCH);
      const ready = [];
      for (const row of chunk) {
        if (await sendPhotos(row, user)) ready.push(row);
      }
      if (ready.length) await sendRecords(ready, user);
    }
    await sendWorkOrderSteps(mine, due, user);
    await store.pruneSynced();
    state.lastSyncAt = Date.now();
    await scheduleNextRetry(user);
  } catch (error) {
    if (!(error instanceof Stop)) throw error;
    state.lastError = error.reason;
    // Whatever was being sent stays pending, untouched.
    for (const row of await store.listRecords()) {
      if (row.status === "sending") await store.updateRecord(row.id, { status: "pending" });
    }
  }
}

/** A record in backoff within the timer's period gets its own wake-up. */
async function scheduleNextRetry(user) {
  const waits = (await store.listRecords())
    .filter((row) => row.user_id === user.id && row.status === "pending" && row.next_try_at)
    .map((row) => row.next_try_at - Date.now());
  if (!waits.length) return;
  const next = Math.min(...waits);
  if (next < TIMER_MS) scheduleSoon(next + 50);
}

/**
 * Still the same person, still logged in? Checked before every request: a sync that started before
 * a logout must not send one person's records with the next person's session.
 */
function stillSignedIn(user) {
  if (state.signedOut || !state.user || state.user.id !== user.id) throw new Stop("signed_out");
}

/** Throw Stop for "no network" and "log in again"; return the ApiError otherwise. */
function classify(error) {
  if (error instanceof NetworkError) throw new Stop("offline");
  if (error instanceof ApiError && SIGNED_OUT_CODES.has(error.code)) throw new Stop("signed_out");
  if (error instanceof ApiError) return error;
  throw error;
}

/** Worth trying again later: the server is unwell, busy, or does not have the route yet. */
function transient(status) {
  return status >= 500 || status === 429 || status === 408 || status === 404 || status === 405;
}

async function refreshCatalogue(user) {
  const local = await store.getCatalogue();
  const cursor = local && local.user_id === user.id ? local.cursor : null;
  let data;
  stillSignedIn(user);
  try {
    data = await api(`/api/catalogue${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ""}`);
  } catch (error) {
    classify(error);
    return; // the server could not answer now: keep the copy we have, still send the outbox
  }
  if (data && Array.isArray(data.checkpoints)) {
    const catalogue = await store.applyCatalogue(data, user.id);
    for (const handler of catalogueHandlers) {
      try {
        stillSignedIn(user);
        await handler(user, catalogue);
      } catch (error) {
        if (error instanceof Stop) throw error;
        console.warn("offline data handler failed", error);
      }
    }
  }
}

/** @type {Array<(user: any, catalogue: any) => Promise<void>>} */
const catalogueHandlers = [];

/**
 * Fetch more offline data along with the catalogue: `handler(user, catalogue)` runs after every
 * catalogue refresh the server answered (e.g. the renovation glance for the check screen). It
 * should keep its own pace (it runs on every sync) and never throw for "offline".
 */
export function onCatalogueRefreshed(handler) {
  catalogueHandlers.push(handler);
}

async function backOff(row) {
  const attempts = (row.attempts || 0) + 1;
  state.lastError = "server";
  await store.updateRecord(row.id, { status: "pending", attempts,
    next_try_at: Date.now() + backoffDelay(attempts) });
}

/**
 * Upload the record's photos the server has not acknowledged.
 * @returns {Promise<boolean>} true when every photo is on the server
 */
async function sendPhotos(row, user) {
  await store.updateRecord(row.id, { status: "sending" });
  for (const sha of store.photoHashes(row.record)) {
    const photo = await store.getPhoto(sha);
    if (!photo) {
      // Never expected (a record is saved with its photos); let the server say missing_photo.
      continue;
    }
    if (photo.uploaded) continue;
    stillSignedIn(user);
    try {
      await api(`/api/photos/${sha}`, { method: "PUT", body: photo.blob, timeoutMs: PHOTO_TIMEOUT_MS });
    } catch (error) {
      const apiError = classify(error);
      if (apiError.status === 401) {
        window.dispatchEvent(new CustomEvent("xunjian:unauthenticated"));
        throw new Stop("signed_out");
      }
      if (transient(apiError.status)) {
        await backOff(row);
        return false;
      }
      // The server will never take this photo (too large, not an image …): the person must decide.
      await store.updateRecord(row.id, { status: "rejected", code: apiError.code,
        reason: apiError.message });
      return false;
    }
    await store.setPhotoUploaded(sha, true);
  }
  return true;
}

/** POST records (photos all up) to /api/sync and record each answer. */
async function sendRecords(rows, user) {
  let data;
  stillSignedIn(user);
  try {
    data = await api("/api/sync", { method: "POST", body: { records: rows.map((row) => row.record) },
      timeoutMs: SYNC_TIMEOUT_MS });
  } catch (error) {
    const apiError = classify(error);
    if (transient(apiError.status)) {
      for (const row of rows) await backOff(row);
      return;
    }
    if (rows.length > 1) {
      // The whole batch was refused (one malformed record?): send one by one to find it.
      for (const row of rows) await sendRecords([row], user);
      return;
    }
    await store.updateRecord(rows[0].id, { status: "rejected", code: apiError.code,
      reason: apiError.message });
    return;
  }
  const results = new Map((data?.results || []).map((result) => [result.id, result]));
  for (const row of rows) {
    const result = results.get(row.id);
    if (!result) {
      await backOff(row);
    } else if (result.status === "accepted" || result.status === "duplicate") {
      await store.updateRecord(row.id, { status: "synced", synced_at: Date.now(), code: null,
        reason: null, work_orders: result.work_orders || [] });
    } else if (result.code === "missing_photo") {
      // The server lost a photo or never had it: send the photos again (now once, then backing off).
      for (const sha of store.photoHashes(row.record)) await store.setPhotoUploaded(sha, false);
      const attempts = (row.attempts || 0) + 1;
      await store.updateRecord(row.id, { status: "pending", attempts,
        next_try_at: attempts === 1 ? 0 : Date.now() + backoffDelay(attempts) });
      state.again = true;
    } else {
      await store.updateRecord(row.id, { status: "rejected", code: result.code || "rejected",
        reason: result.reason || "" });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Work-order steps and raised orders: one request each, in the order they were saved

/** Worth trying again later (a work-order request): no answer of our own server's making. */
function transientStep(error) {
  return transient(error.status) && (error.status >= 500 || error.status === 429 || error.status === 408
    || error.code.startsWith("http_"));
}

/** The queue a one-request record keeps its order in: an order's steps, a request's group. */
function orderGroup(record) {
  if (record.kind === "work_order_step") return `work_order:${record.order}`;
  if (record.kind === "request" && record.group) return `request:${record.group}`;
  return null;
}

/** Oldest first: a queued request's seq (same millisecond twice stays in order), else saved_at. */
function queuedAt(row) {
  return row.record.seq || row.saved_at * 1000;
}

/**
 * Send the due work-order records and queued requests one by one, oldest first: photos first, then
 * the request once every photo is acknowledged. A step waits while an earlier step of the same
 * order (a request: of its group) is still on the phone unsent (accept before report), so the
 * server sees them in the order they were taken.
 */
async function sendWorkOrderSteps(mine, due, user) {
  const dueIds = new Set(due.map((row) => row.id));
  const held = new Set(); // orders / groups with an earlier request still waiting
  const rows = mine.filter((row) => store.REQUEST_KINDS.has(row.record.kind))
    .sort((a, b) => queuedAt(a) - queuedAt(b));
  for (const row of rows) {
    const orderId = orderGroup(row.record);
    const current = await store.getRecord(row.id);
    if (!current || current.status === "synced" || current.status === "rejected") continue;
    if (orderId !== null && held.has(orderId)) continue;
    if (!dueIds.has(row.id)) {
      if (orderId !== null) held.add(orderId);
      continue;
    }
    const sent = (await sendPhotos(current, user)) && (await sendStep(current, user));
    if (!sent && orderId !== null) {
      const after = await store.getRecord(row.id);
      if (after && after.status !== "rejected") held.add(orderId);
    }
  }
}

/** POST one step (or raised order). @returns {Promise<boolean>} true when the server has it. */
async function sendStep(row, user) {
  const record = row.record;
  const path = record.kind === "request" ? record.path : record.kind === "work_order_raise"
    ? "/api/work-orders" : `/api/work-orders/${record.order}/${record.step}`;
  let order;
  stillSignedIn(user);
  try {
    order = await api(path, { method: "POST", body: record.body, timeoutMs: SYNC_TIMEOUT_MS });
  } catch (error) {
    const apiError = classify(error);
    if (apiError.status === 401) {
      window.dispatchEvent(new CustomEvent("xunjian:unauthenticated"));
      throw new Stop("signed_out");
    }
    if (transientStep(apiError)) {
      await backOff(row);
      return false;
    }
    if (apiError.code === "missing_photo") {
      // The server lost a photo or never had it: send the photos again (now once, then backing off).
      for (const sha of store.photoHashes(record)) await store.setPhotoUploaded(sha, false);
      const attempts = (row.attempts || 0) + 1;
      await store.updateRecord(row.id, { status: "pending", attempts,
        next_try_at: attempts === 1 ? 0 : Date.now() + backoffDelay(attempts) });
      state.again = true;
      return false;
    }
    // Final: the order moved on while the phone was offline, or the step was not acceptable.
    await store.updateRecord(row.id, { status: "rejected", code: apiError.code, reason: apiError.message });
    return false;
  }
  if (record.kind === "request") {
    await store.updateRecord(row.id, { status: "synced", synced_at: Date.now(), code: null, reason: null,
      result_id: order && typeof order.id === "number" ? order.id : null });
    await requestSynced(record, order, user);
    return true;
  }
  await store.updateRecord(row.id, { status: "synced", synced_at: Date.now(), code: null, reason: null,
    work_order: order && typeof order.id === "number" ? order.id : null });
  if (order && typeof order.id === "number") {
    // The server answers the order as it now is: that is the phone's copy from now on.
    await store.putCached("order", user.id, order.id, order).catch(() => {});
  }
  return true;
}

/** @type {Array<(record: any, response: any, user: any) => (void | Promise<void>)>} */
const requestHandlers = [];

/**
 * Call `handler(record, response, user)` after the server took a queued request (e.g. keep the
 * permit it answered for offline use). A handler that throws does not undo the sync.
 */
export function onRequestSynced(handler) {
  requestHandlers.push(handler);
}

async function requestSynced(record, response, user) {
  for (const handler of requestHandlers) {
    try {
      await handler(record, response, user);
    } catch (error) {
      console.warn("request handler failed", error);
    }
  }
  window.dispatchEvent(new CustomEvent("xunjian:request-synced",
    { detail: { id: record.id, path: record.path, group: record.group, response } }));
}

/** The outbox screen's "retry": forget the backoff (a rejected record is sent again too). */
export async function retryRecord(id) {
  const row = await store.getRecord(id);
  if (!row || row.status === "synced") return;
  await store.updateRecord(id, { status: "pending", attempts: 0, next_try_at: 0, code: null, reason: null });
  await syncNow({ force: true });
}

/** How long a queued write may take to go before the person is told it was kept on the phone. */
const WAITING_NOTICE_MS = 1500;

/**
 * Queue an exactly-once request (store.queueRequest), try to send it now, and call `onWaiting`
 * if it is still on the phone a moment later (offline, server busy). Returns the record's id.
 * @param {Parameters<typeof store.queueRequest>[0]} request
 * @param {(() => void) | null} [onWaiting]
 */
export async function queueAndSend(request, onWaiting = null) {
  const id = await store.queueRequest(request);
  syncNow().catch(() => {});
  if (onWaiting) {
    setTimeout(async () => {
      const row = await store.getRecord(id).catch(() => null);
      if (row && (row.status === "pending" || row.status === "sending")) onWaiting();
    }, WAITING_NOTICE_MS);
  }
  return id;
}
