// The phone's own storage (IndexedDB, through the `idb` wrapper from npm): every check is saved
// here first, with its photos as Blobs, and stays until the server has acknowledged the record and
// every photo. Also the catalogue (checkpoints, templates, open work orders) for offline use, and
// the check form's unsaved drafts.
//
// Object stores (database "xunjian"):
//   records   keyPath "id": {id, record, status, code, reason, attempts, next_try_at, saved_at,
//                            synced_at, user_id}; status "pending" | "sending" | "synced" | "rejected"
//   photos    keyPath "sha256": {sha256, blob, width, height, uploaded}
//   catalogue keyPath "key": one entry "main" with the catalogue of the user in `user_id`
//   drafts    keyPath "key": {key, value, saved_at}
//   meta      keyPath "key": {key, value}
//   orders    keyPath "key" (version 2): the work-order queue and each order's detail as the server
//             last answered them, for offline use: {key: "queue:<user>:<site>" | "order:<user>:<id>",
//             user_id, value, fetched_at}
//
// A record is written together with its photos in one transaction, so a record never points at a
// photo that is not on the phone.
//
// The outbox holds two kinds of record, sent with the same exactly-once contract (the record's id
// is the client_id the server de-duplicates on):
//   - a check (no `kind`): the /api/sync wire Record;
//   - a work-order step or a raised order: {id, kind: "work_order_step" | "work_order_raise",
//     order (id, steps only), step (API path segment), title (for the outbox), device_time,
//     body (the JSON body posted, client_id = id)}; its photos are body.photos and body.signature;
//   - any other exactly-once POST (queueRequest): {id, kind: "request", path ("/api/…"), body
//     (client_id = id), photos (sha256 list, uploaded first), group (requests of one group go in
//     the order they were queued, e.g. "renovation:12"), label (the outbox line), seq, device_time}.

import { openDB } from "/vendor/idb/build/index.js";

const DB_NAME = "xunjian";
const DB_VERSION = 2;
const ME_KEY = "xunjian.me"; // app.js keeps the logged-in person here (also offline)

/** Synced records are kept this long for the person to see, then deleted with their photos. */
export const KEEP_SYNCED_MS = 7 * 24 * 3600 * 1000;
/** …but never more than this many. */
export const KEEP_SYNCED_MAX = 200;

export const UNSYNCED = new Set(["pending", "sending", "rejected"]);

/** @type {Promise<import("/vendor/idb/build/index.js").IDBPDatabase> | null} */
let dbPromise = null;
let persistAsked = false;

/** Ask once per page that the browser not evict this storage under pressure. */
function askPersistence() {
  if (persistAsked) return;
  persistAsked = true;
  const storage = navigator.storage;
  if (!storage || !storage.persist) return;
  storage.persisted()
    .then((already) => (already ? true : storage.persist()))
    .catch(() => false);
}

export function openStore() {
  askPersistence();
  if (!dbPromise) {
    dbPromise = openDB(DB_NAME, DB_VERSION, {
      upgrade(db) {
        if (!db.objectStoreNames.contains("records")) {
          const records = db.createObjectStore("records", { keyPath: "id" });
          records.createIndex("status", "status");
        }
        if (!db.objectStoreNames.contains("photos")) db.createObjectStore("photos", { keyPath: "sha256" });
        if (!db.objectStoreNames.contains("catalogue")) db.createObjectStore("catalogue", { keyPath: "key" });
        if (!db.objectStoreNames.contains("drafts")) db.createObjectStore("drafts", { keyPath: "key" });
        if (!db.objectStoreNames.contains("meta")) db.createObjectStore("meta", { keyPath: "key" });
        // Version 2: cached work orders. Stores of version 1 are kept as they are (the outbox in
        // them must survive the upgrade); only what is missing is created.
        if (!db.objectStoreNames.contains("orders")) db.createObjectStore("orders", { keyPath: "key" });
      },
      blocking() {
        // A newer version of the app wants to upgrade the database: let it, reopen on next use.
        dbPromise?.then((db) => db.close());
        dbPromise = null;
      },
      terminated() {
        dbPromise = null;
      },
    });
    dbPromise.catch(() => {
      dbPromise = null;
    });
  }
  return dbPromise;
}

/** The logged-in person's id as app.js remembers it (works offline too). */
function rememberedUserId() {
  try {
    const me = JSON.parse(localStorage.getItem(ME_KEY) || "null");
    return me && typeof me.id === "number" ? me.id : null;
  } catch {
    return null;
  }
}

/** Work-order kinds of outbox record (see the header). */
export const WORK_ORDER_KINDS = new Set(["work_order_step", "work_order_raise"]);

/** Every kind of outbox record sent as one POST of its own (not through /api/sync). */
export const REQUEST_KINDS = new Set([...WORK_ORDER_KINDS, "request"]);

/** Every photo a wire record refers to, once each (item photos and whole-check photos). */
export function photoHashes(record) {
  if (record.kind === "request") return [...new Set(record.photos || [])];
  if (WORK_ORDER_KINDS.has(record.kind)) {
    const body = record.body || {};
    return [...new Set([...(body.photos || []), ...(body.signature ? [body.signature] : [])])];
  }
  const hashes = new Set(record.photos || []);
  for (const item of record.items || []) for (const sha of item.photos || []) hashes.add(sha);
  return [...hashes];
}

/** Give up a transaction: its writes are undone, and the error says why. */
function abort(tx, message) {
  tx.done.catch(() => {}); // the abort is the error reported, not a second one
  tx.abort();
  return new Error(message);
}

function changed() {
  window.dispatchEvent(new CustomEvent("xunjian:store-changed"));
}

// ---------------------------------------------------------------------------------------------
// Records and photos

/**
 * Save a check on the phone: the record (status "pending") and its photo blobs, in one transaction.
 * @param {any} record  the wire Record (contract: id, checkpoint, site, version, signature, source,
 *                      device_time, template, items, note, photos)
 * @param {{sha256: string, blob: Blob, width: number, height: number}[]} [photos]
 * @param {{userId?: number}} [options]  defaults to the logged-in person
 */
export async function saveRecord(record, photos = [], { userId } = {}) {
  const owner = userId ?? rememberedUserId();
  if (owner === null || owner === undefined) throw new Error("saveRecord: nobody is logged in");
  if (!record || typeof record.id !== "string") throw new Error("saveRecord: a record needs an id");
  const byHash = new Map(photos.map((p) => [p.sha256, p]));
  const missing = photoHashes(record).filter((sha) => !byHash.has(sha));
  const db = await openStore();
  const tx = db.transaction(["records", "photos"], "readwrite");
  const photoStore = tx.objectStore("photos");
  for (const sha of missing) {
    // A photo the record names must be on the phone already (e.g. the same photo in two items).
    if (!(await photoStore.get(sha))) {
      throw abort(tx, `saveRecord: photo ${sha} is not on the phone`);
    }
  }
  for (const photo of byHash.values()) {
    const existing = await photoStore.get(photo.sha256);
    if (!existing) {
      await photoStore.put({ sha256: photo.sha256, blob: photo.blob, width: photo.width,
        height: photo.height, uploaded: false });
    }
  }
  const recordStore = tx.objectStore("records");
  if (await recordStore.get(record.id)) {
    throw abort(tx, `saveRecord: record ${record.id} exists already`);
  }
  await recordStore.put({
    id: record.id, record, status: "pending", code: null, reason: null, attempts: 0,
    next_try_at: 0, saved_at: Date.now(), synced_at: null, user_id: owner,
  });
  await tx.done;
  changed();
  window.dispatchEvent(new CustomEvent("xunjian:record-saved", { detail: { id: record.id } }));
}

/** A random UUID (v4): the id of an outbox record, and the client_id that makes a write count once
 * however often it is sent. */
export function newId() {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const x = Array.from(b, (v) => v.toString(16).padStart(2, "0")).join("");
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/** Local time with its UTC offset, e.g. 2026-11-23T09:15:00+08:00 (what the server requires). */
export function localTimestamp(date = new Date()) {
  const pad = (n) => String(Math.trunc(Math.abs(n))).padStart(2, "0");
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`
    + `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
    + `${sign}${pad(offset / 60)}:${pad(offset % 60)}`;
}

let lastSeq = 0;
/** Strictly increasing within this page, and after a reload too (it starts from the clock). */
function nextSeq() {
  lastSeq = Math.max(lastSeq + 1, Date.now() * 1000);
  return lastSeq;
}

/**
 * Queue any exactly-once POST in the outbox; the sync engine sends it when it can.
 *
 * The body gets `client_id` = the record's id (kept across retries: the server answers a repeat
 * 200 + X-Replayed and stores it once). `photos` are uploaded before the request, like a check's;
 * put their sha256 in the body yourself where the endpoint wants them (e.g. `photos: [...]`,
 * `signature`). Requests of one `group` are sent in the order they were queued, and one waits
 * while an earlier one of its group is still unsent. 5xx / 429 / no answer: backoff and retry;
 * any other 4xx is final ("rejected" on the outbox screen with the server's message). After the
 * server took it, the window event "xunjian:request-synced" {detail: {id, path, group, response}}
 * fires (sync.js `onRequestSynced` too, for modules that keep a copy of the answer).
 *
 * @param {{path: string, body?: Record<string, any>,
 *          photos?: Array<{sha256: string, blob: Blob, width?: number, height?: number} | string>,
 *          group?: string | null, label: string, userId?: number}} request
 *   path: "/api/…" (POST); photos: the form's photos (photo_field.js) or sha256 of photos on the
 *   phone already; label: what the outbox screen shows, e.g. "装修 1-1203 · 开工".
 * @returns {Promise<string>} the record's id (= the body's client_id)
 */
export async function queueRequest({ path, body = {}, photos = [], group = null, label, userId }) {
  if (typeof path !== "string" || !path.startsWith("/api/")) {
    throw new Error(`queueRequest: path must start with /api/, not ${path}`);
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new Error("queueRequest: body must be an object");
  }
  const id = newId();
  const blobs = photos.filter((p) => typeof p !== "string");
  const hashes = photos.map((p) => (typeof p === "string" ? p : p.sha256));
  const record = {
    id, kind: "request", path, group: group == null ? null : String(group),
    label: String(label || path), photos: [...new Set(hashes)], seq: nextSeq(), device_time: localTimestamp(),
    body: { ...body, client_id: id },
  };
  await saveRecord(record, blobs.map((p) => ({ sha256: p.sha256, blob: p.blob, width: p.width ?? null,
    height: p.height ?? null })), { userId });
  return id;
}

/** Requests queued by queueRequest for this person (any status), oldest first; `group` filters. */
export async function listRequests(userId, group = null) {
  const db = await openStore();
  const rows = await db.getAll("records");
  return rows.filter((row) => row.record.kind === "request" && (userId == null || row.user_id === userId)
    && (group == null || row.record.group === group))
    .sort((a, b) => (a.record.seq || 0) - (b.record.seq || 0));
}

/** @returns {Promise<Blob | undefined>} */
export async function getPhotoBlob(sha256) {
  const db = await openStore();
  return (await db.get("photos", sha256))?.blob;
}

/** The stored photo entry {sha256, blob, width, height, uploaded}. */
export async function getPhoto(sha256) {
  const db = await openStore();
  return db.get("photos", sha256);
}

/** Every record on the phone (all users), newest first, with "photos n/m" worked out. */
export async function listRecords() {
  const db = await openStore();
  const tx = db.transaction(["records", "photos"], "readonly");
  const rows = await tx.objectStore("records").getAll();
  const photoStore = tx.objectStore("photos");
  const out = [];
  for (const row of rows) {
    const hashes = photoHashes(row.record);
    let sent = 0;
    for (const sha of hashes) {
      const photo = await photoStore.get(sha);
      // A synced record's photos were acknowledged even if their blobs are gone.
      if (row.status === "synced" || photo?.uploaded) sent += 1;
    }
    out.push({ ...row, photos_total: hashes.length, photos_sent: sent });
  }
  await tx.done;
  out.sort((a, b) => b.saved_at - a.saved_at);
  return out;
}

export async function getRecord(id) {
  const db = await openStore();
  return db.get("records", id);
}

/** Change some fields of a stored record (status, code, reason, attempts, next_try_at, synced_at). */
export async function updateRecord(id, patch) {
  const db = await openStore();
  const tx = db.transaction("records", "readwrite");
  const row = await tx.store.get(id);
  if (row) await tx.store.put({ ...row, ...patch, id: row.id, record: row.record });
  await tx.done;
  changed();
  return Boolean(row);
}

/** Mark a photo as acknowledged by the server (or, after missing_photo, as not). */
export async function setPhotoUploaded(sha256, uploaded) {
  const db = await openStore();
  const tx = db.transaction("photos", "readwrite");
  const photo = await tx.store.get(sha256);
  if (photo && photo.uploaded !== uploaded) await tx.store.put({ ...photo, uploaded });
  await tx.done;
}

/** pending + sending + rejected: the records not yet safely on the server. */
export async function countUnsynced(userId) {
  const db = await openStore();
  const rows = await db.getAll("records");
  return rows.filter((r) => UNSYNCED.has(r.status) && (userId == null || r.user_id === userId)).length;
}

/**
 * Delete a record and every photo blob no other record uses. Only synced records (by pruning) and
 * rejected ones (the person's explicit choice) may go; anything else is refused.
 */
export async function deleteRecord(id) {
  const db = await openStore();
  const tx = db.transaction(["records", "photos"], "readwrite");
  const records = tx.objectStore("records");
  const row = await records.get(id);
  if (!row) {
    await tx.done;
    return false;
  }
  if (row.status !== "rejected" && row.status !== "synced") {
    throw abort(tx, `deleteRecord: record ${id} is ${row.status}, not deleted`);
  }
  await records.delete(id);
  const stillUsed = new Set();
  for (const other of await records.getAll()) for (const sha of photoHashes(other.record)) stillUsed.add(sha);
  for (const sha of photoHashes(row.record)) {
    if (!stillUsed.has(sha)) await tx.objectStore("photos").delete(sha);
  }
  await tx.done;
  changed();
  return true;
}

/** Forget synced records older than KEEP_SYNCED_MS, and beyond the newest KEEP_SYNCED_MAX. */
export async function pruneSynced(now = Date.now()) {
  const db = await openStore();
  const synced = (await db.getAllFromIndex("records", "status", "synced"))
    .sort((a, b) => (b.synced_at || 0) - (a.synced_at || 0));
  const doomed = synced.filter((row, i) => i >= KEEP_SYNCED_MAX || now - (row.synced_at || 0) > KEEP_SYNCED_MS);
  for (const row of doomed) await deleteRecord(row.id);
  return doomed.length;
}

// ---------------------------------------------------------------------------------------------
// Catalogue

/** @returns {Promise<any | null>} {templates, checkpoints, work_orders, sites, buildings, floors, cursor, user_id} */
export async function getCatalogue() {
  const db = await openStore();
  const entry = await db.get("catalogue", "main");
  return entry ? entry.value : null;
}

function mergeById(old, changes) {
  const byId = new Map((old || []).map((row) => [row.id, row]));
  for (const row of changes || []) byId.set(row.id, row);
  return [...byId.values()];
}

/**
 * Keep an answer of GET /api/catalogue: full → replace the local copy; otherwise merge the changed
 * checkpoints (inactive ones are deleted). Templates and open work orders always come whole.
 */
export async function applyCatalogue(data, userId) {
  const db = await openStore();
  const tx = db.transaction("catalogue", "readwrite");
  const old = (await tx.store.get("main"))?.value;
  let value;
  if (data.full || !old || old.user_id !== userId) {
    value = {
      user_id: userId, cursor: data.cursor, sites: data.sites || [], buildings: data.buildings || [],
      floors: data.floors || [], templates: data.templates || [],
      checkpoints: (data.checkpoints || []).filter((c) => c.active !== false),
      work_orders: data.work_orders || [],
    };
  } else {
    const gone = new Set((data.checkpoints || []).filter((c) => c.active === false).map((c) => c.id));
    value = {
      user_id: userId, cursor: data.cursor,
      sites: mergeById(old.sites, data.sites),
      buildings: mergeById(old.buildings, data.buildings),
      floors: mergeById(old.floors, data.floors),
      templates: data.templates || old.templates,
      checkpoints: mergeById(old.checkpoints, (data.checkpoints || []).filter((c) => !gone.has(c.id)))
        .filter((c) => !gone.has(c.id)),
      work_orders: data.work_orders || old.work_orders,
    };
  }
  value.updated_at = Date.now();
  await tx.store.put({ key: "main", value });
  await tx.done;
  changed();
  return value;
}

/**
 * A checkpoint by its code (and site, when known) from the local catalogue, with its template,
 * its open work orders and its last check (the newest of the server's and this phone's records).
 * @returns {Promise<{checkpoint: any, template: any, work_orders: any[], last_check: any} | null>}
 */
export async function findCheckpoint(code, siteId) {
  const catalogue = await getCatalogue();
  if (!catalogue) return null;
  const wanted = String(code).trim().toUpperCase();
  const matches = catalogue.checkpoints.filter((c) => String(c.code).toUpperCase() === wanted
    && (siteId == null || c.site_id === Number(siteId)));
  if (matches.length !== 1) return null; // unknown, or the same code in two of my sites
  const checkpoint = matches[0];
  const template = catalogue.templates.find((tpl) => tpl.id === checkpoint.template_id) || null;
  const workOrders = catalogue.work_orders.filter((w) => w.checkpoint_id === checkpoint.id);
  let lastCheck = checkpoint.last_check || null;
  const db = await openStore();
  for (const row of await db.getAll("records")) {
    const r = row.record;
    if (r.kind) continue; // a work-order step, not a check
    if (String(r.checkpoint).toUpperCase() !== wanted) continue;
    if (r.site != null && r.site !== checkpoint.site_id) continue;
    if (lastCheck && Date.parse(lastCheck.device_time) >= Date.parse(r.device_time)) continue;
    const failed = (r.items || []).some((item) => item.result === "fail");
    lastCheck = { id: r.id, device_time: r.device_time, inspector: null,
      result: failed ? "fail" : "pass", local: true, status: row.status };
  }
  return { checkpoint, template, work_orders: workOrders, last_check: lastCheck };
}

// ---------------------------------------------------------------------------------------------
// Drafts and small settings

export async function saveDraft(key, value) {
  const db = await openStore();
  await db.put("drafts", { key, value, saved_at: Date.now() });
}

export async function loadDraft(key) {
  const db = await openStore();
  return (await db.get("drafts", key))?.value;
}

export async function clearDraft(key) {
  const db = await openStore();
  await db.delete("drafts", key);
}

export async function getMeta(key) {
  const db = await openStore();
  return (await db.get("meta", key))?.value;
}

export async function setMeta(key, value) {
  const db = await openStore();
  await db.put("meta", { key, value });
}

// ---------------------------------------------------------------------------------------------
// Work orders kept for offline use (the queue and each order's detail)

function orderKey(kind, userId, id) {
  return `${kind}:${userId}:${id ?? ""}`;
}

/** Keep what the server answered: `kind` "queue" (id = site) or "order" (id = order id). */
export async function putCached(kind, userId, id, value) {
  const db = await openStore();
  await db.put("orders", { key: orderKey(kind, userId, id), user_id: userId, value, fetched_at: Date.now() });
}

/** @returns {Promise<{value: any, fetched_at: number} | null>} */
export async function getCached(kind, userId, id) {
  const db = await openStore();
  const row = await db.get("orders", orderKey(kind, userId, id));
  return row ? { value: row.value, fetched_at: row.fetched_at } : null;
}

/** Forget one kept answer (e.g. a permit pushed out of the newest 30). */
export async function dropCached(kind, userId, id) {
  const db = await openStore();
  await db.delete("orders", orderKey(kind, userId, id));
}

/** Work-order steps and raises of this person on the phone (any status), oldest first. */
export async function listWorkOrderRecords(userId) {
  const db = await openStore();
  const rows = await db.getAll("records");
  return rows.filter((row) => WORK_ORDER_KINDS.has(row.record.kind) && (userId == null || row.user_id === userId))
    .sort((a, b) => a.saved_at - b.saved_at);
}
