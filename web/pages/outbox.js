// The outbox: every check and work-order step saved on this phone by the logged-in person and
// where it stands —
// waiting, being sent, on the server, or refused with the server's reason — with "photos n/m",
// retry, "sync now", delete (refused records only, after a confirm) and an export of everything
// not yet on the server to a JSON file (photos base64-encoded), the rescue path if sync cannot
// happen. The list redraws itself while shown, as the sync engine reports changes.

import { h } from "../dom.js";
import { addStrings, getLang, t } from "../i18n.js";
import * as store from "../store.js";
import { retryRecord, syncNow, syncState } from "../sync.js";

addStrings({
  "zh-CN": {
    "outbox.title": "待同步",
    "outbox.unsynced": "未同步",
    "outbox.unsynced_unit": "条",
    "outbox.sync_now": "立即同步",
    "outbox.export": "导出备份",
    "outbox.export_done": "已导出 {n} 条记录：{name}",
    "outbox.export_failed": "导出失败，请重试",
    "outbox.empty": "所有记录都已同步到服务器",
    "outbox.none": "还没有巡检记录",
    "outbox.synced_heading": "已同步（保留 7 天）",
    "outbox.status.pending": "等待发送",
    "outbox.status.sending": "正在发送",
    "outbox.status.synced": "已同步",
    "outbox.status.rejected": "被拒绝",
    "outbox.photos": "照片 {n}/{m}",
    "outbox.retry": "重试",
    "outbox.delete": "删除",
    "outbox.delete_confirm": "删除这条被拒绝的记录及其照片？删除后无法恢复。",
    "outbox.state.running": "正在同步…",
    "outbox.state.offline": "离线：联网后会自动发送",
    "outbox.state.signed_out": "登录已过期，请重新登录后继续同步",
    "outbox.state.server": "服务器暂时无法接收，稍后自动重试",
    "outbox.state.busy": "另一个窗口正在同步",
    "outbox.state.done": "上次同步：{time}",
    "outbox.state.idle": "打开应用、联网或每分钟都会自动同步",
    "outbox.manual": "手动输入",
    "outbox.next_try": "{time} 重试",
    "outbox.logout_confirm": "还有 {n} 条记录未同步。退出后记录仍保留在本机，下次登录后继续发送。确定退出吗？",
    "outbox.badge_label": "{n} 条待同步",
    "outbox.kind.work_order_step": "工单",
    "outbox.kind.work_order_raise": "报修",
    "outbox.kind.request": "待提交",
    "outbox.order": "工单 #{id}",
    "outbox.step.accept": "接单",
    "outbox.step.report": "完成汇报",
    "outbox.step.defer": "暂无法完成",
    "outbox.step.resume": "恢复处理",
    "outbox.step.sign-off": "业主签字",
    "outbox.step.absent": "业主不在家",
    "outbox.step.dispatch": "派工",
    "outbox.step.redirect": "改派",
    "outbox.step.verify": "核实通过",
    "outbox.step.reject": "退回",
    "outbox.step.close": "关闭",
    "outbox.step.follow-up": "回访",
    "outbox.step.comment": "备注",
    "outbox.step.raise": "新报修",
  },
  en: {
    "outbox.title": "Outbox",
    "outbox.unsynced": "Not yet synced",
    "outbox.unsynced_unit": "",
    "outbox.sync_now": "Sync now",
    "outbox.export": "Export backup",
    "outbox.export_done": "Exported {n} records: {name}",
    "outbox.export_failed": "Export failed, please try again",
    "outbox.empty": "Every record is on the server",
    "outbox.none": "No checks yet",
    "outbox.synced_heading": "Synced (kept 7 days)",
    "outbox.status.pending": "Waiting",
    "outbox.status.sending": "Sending",
    "outbox.status.synced": "Synced",
    "outbox.status.rejected": "Rejected",
    "outbox.photos": "Photos {n}/{m}",
    "outbox.retry": "Retry",
    "outbox.delete": "Delete",
    "outbox.delete_confirm": "Delete this rejected record and its photos? This cannot be undone.",
    "outbox.state.running": "Syncing…",
    "outbox.state.offline": "Offline: records are sent when the network returns",
    "outbox.state.signed_out": "Your session has ended. Log in again to carry on syncing",
    "outbox.state.server": "The server cannot take records right now; retrying automatically",
    "outbox.state.busy": "Another window is syncing",
    "outbox.state.done": "Last sync: {time}",
    "outbox.state.idle": "Syncs on opening the app, on reconnecting and every minute",
    "outbox.manual": "Typed code",
    "outbox.next_try": "retry at {time}",
    "outbox.logout_confirm": "{n} records are not synced yet. They stay on this phone and are sent after the next login. Log out?",
    "outbox.badge_label": "{n} to sync",
    "outbox.kind.work_order_step": "Work order",
    "outbox.kind.work_order_raise": "Fault report",
    "outbox.kind.request": "To send",
    "outbox.order": "Order #{id}",
    "outbox.step.accept": "Accept",
    "outbox.step.report": "Report done",
    "outbox.step.defer": "Cannot finish now",
    "outbox.step.resume": "Resume",
    "outbox.step.sign-off": "Owner signs",
    "outbox.step.absent": "Owner not at home",
    "outbox.step.dispatch": "Dispatch",
    "outbox.step.redirect": "Redirect",
    "outbox.step.verify": "Verify",
    "outbox.step.reject": "Send back",
    "outbox.step.close": "Close",
    "outbox.step.follow-up": "Follow-up call",
    "outbox.step.comment": "Comment",
    "outbox.step.raise": "New report",
  },
});

const UNSYNCED = ["pending", "sending", "rejected"];

function formatTime(value, withDate = true) {
  const date = typeof value === "number" ? new Date(value) : new Date(Date.parse(value));
  if (Number.isNaN(date.getTime())) return String(value);
  return new Intl.DateTimeFormat(getLang(), withDate
    ? { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false }
    : { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false }).format(date);
}

/** @param {import("../app.js").Ctx} ctx */
export function render(ctx) {
  const count = h("strong", { "data-testid": "outbox-unsynced" }, "…");
  const status = h("p", { class: "outbox-state", role: "status", "aria-live": "polite",
    "data-testid": "outbox-state" });
  const message = h("p", { class: "status", role: "status", "aria-live": "polite",
    "data-testid": "outbox-message" });
  const list = h("div", { class: "outbox-lists", "data-testid": "outbox-list" });

  const syncButton = h("button", { type: "button", class: "btn btn-primary btn-block",
    "data-testid": "outbox-sync", onclick: () => syncNow({ force: true }) }, t("outbox.sync_now"));
  const exportButton = h("button", { type: "button", class: "btn btn-block",
    "data-testid": "outbox-export", onclick: () => exportOutbox(ctx, exportButton, message) },
    t("outbox.export"));

  const screen = h("section", { class: "outbox", "data-testid": "outbox-screen" },
    h("h1", { class: "page-title" }, t("outbox.title")),
    h("div", { class: "card outbox-summary" },
      h("div", { class: "count-row" },
        h("span", { class: "label" }, t("outbox.unsynced")),
        h("span", { class: "count" }, count,
          t("outbox.unsynced_unit") ? h("span", null, t("outbox.unsynced_unit")) : null)),
      status,
      h("div", { class: "outbox-actions" }, syncButton, exportButton),
      message),
    list);

  let drawing = false;
  let redraw = false;
  async function draw() {
    if (drawing) {
      redraw = true;
      return;
    }
    drawing = true;
    try {
      do {
        redraw = false;
        const [rows, catalogue] = await Promise.all([store.listRecords(), store.getCatalogue()]);
        const mine = rows.filter((row) => row.user_id === ctx.me.id);
        const unsynced = mine.filter((row) => UNSYNCED.includes(row.status));
        const synced = mine.filter((row) => row.status === "synced");
        count.textContent = String(unsynced.length);
        drawState(status, syncState());
        syncButton.disabled = syncState().running;
        const names = new Map((catalogue?.checkpoints || []).map((c) => [`${c.site_id}:${c.code}`, c.name]));
        const byCode = new Map((catalogue?.checkpoints || []).map((c) => [c.code, c.name]));
        const nameOf = (record) => names.get(`${record.site}:${record.checkpoint}`) || byCode.get(record.checkpoint) || "";
        const parts = [];
        if (unsynced.length) {
          parts.push(h("ul", { class: "outbox-records", "data-testid": "outbox-unsynced-list" },
            unsynced.map((row) => recordItem(row, nameOf(row.record), draw))));
        } else {
          parts.push(h("p", { class: "card muted outbox-empty", "data-testid": "outbox-empty" },
            mine.length ? t("outbox.empty") : t("outbox.none")));
        }
        if (synced.length) {
          parts.push(h("h2", { class: "section-title" }, t("outbox.synced_heading")),
            h("ul", { class: "outbox-records", "data-testid": "outbox-synced-list" },
              synced.map((row) => recordItem(row, nameOf(row.record), draw))));
        }
        list.replaceChildren(...parts);
      } while (redraw);
    } finally {
      drawing = false;
    }
  }

  let timer = null;
  function onChange() {
    if (!screen.isConnected) {
      window.removeEventListener("xunjian:outbox", onChange);
      return;
    }
    if (timer) return;
    timer = setTimeout(() => {
      timer = null;
      draw();
    }, 100);
  }
  window.addEventListener("xunjian:outbox", onChange);
  draw();
  return screen;
}

function drawState(el, sync) {
  let text;
  if (sync.running) text = t("outbox.state.running");
  else if (sync.lastError) text = t(`outbox.state.${sync.lastError}`);
  else if (sync.lastSyncAt) text = t("outbox.state.done", { time: formatTime(sync.lastSyncAt, false) });
  else text = t("outbox.state.idle");
  el.textContent = text;
  el.dataset.state = sync.running ? "running" : sync.lastError || "ok";
}

/** What a work-order record is, for its line in the list: kind, step and the order's title. */
function workOrderWhat(record) {
  if (record.kind === "request") {
    // A queued request (store.js queueRequest): its label says what it is.
    return [
      h("p", { class: "outbox-record-name", "data-testid": "outbox-record-name" }, record.label || record.path),
      h("p", { class: "outbox-record-code", "data-testid": "outbox-record-code" },
        h("span", { class: "outbox-kind", "data-testid": "outbox-record-kind" }, t("outbox.kind.request"))),
    ];
  }
  const step = record.kind === "work_order_raise" ? "raise"
    : record.step === "sign-off" && record.body?.owner_absent ? "absent" : record.step;
  const title = record.title || "";
  return [
    h("p", { class: "outbox-record-name", "data-testid": "outbox-record-name" }, title),
    h("p", { class: "outbox-record-code", "data-testid": "outbox-record-code" },
      h("span", { class: "outbox-kind", "data-testid": "outbox-record-kind" }, t(`outbox.kind.${record.kind}`)),
      ` · ${t(`outbox.step.${step}`)}`,
      record.kind === "work_order_step"
        ? h("span", { class: "muted" }, ` · ${t("outbox.order", { id: record.order })}`) : null),
  ];
}

function recordItem(row, name, redraw) {
  const record = row.record;
  const workOrder = store.REQUEST_KINDS.has(record.kind);
  const failed = (record.items || []).filter((item) => item.result === "fail").length;
  const actions = [];
  // Retry where it helps: a refused record, or one waiting out a backoff after server trouble.
  if (row.status === "rejected" || (row.status === "pending" && row.attempts > 0)) {
    actions.push(h("button", { type: "button", class: "btn", "data-testid": "outbox-retry",
      onclick: async (event) => {
        event.currentTarget.disabled = true;
        await retryRecord(row.id);
        redraw();
      } }, t("outbox.retry")));
  }
  if (row.status === "rejected") {
    actions.push(h("button", { type: "button", class: "btn btn-danger", "data-testid": "outbox-delete",
      onclick: async () => {
        if (!window.confirm(t("outbox.delete_confirm"))) return;
        await store.deleteRecord(row.id);
        redraw();
      } }, t("outbox.delete")));
  }
  const waiting = row.status === "pending" && row.next_try_at > Date.now()
    ? h("span", { class: "muted" }, t("outbox.next_try", { time: formatTime(row.next_try_at, false) }))
    : null;
  return h("li", { class: `card outbox-record is-${row.status}`, "data-testid": "outbox-record",
    "data-id": row.id, "data-status": row.status, "data-kind": record.kind || "inspection" },
    h("div", { class: "outbox-record-head" },
      h("div", { class: "outbox-record-what" }, workOrder ? workOrderWhat(record) : [
        name ? h("p", { class: "outbox-record-name", "data-testid": "outbox-record-name" }, name) : null,
        h("p", { class: "outbox-record-code", "data-testid": "outbox-record-code" }, record.checkpoint,
          record.source === "manual" ? h("span", { class: "muted" }, ` · ${t("outbox.manual")}`) : null)]),
      h("span", { class: `outbox-chip chip-${row.status}`, "data-testid": "outbox-record-status" },
        t(`outbox.status.${row.status}`))),
    h("p", { class: "outbox-record-meta" },
      h("span", { "data-testid": "outbox-record-time" }, formatTime(record.device_time)),
      row.photos_total
        ? h("span", { "data-testid": "outbox-record-photos" },
          t("outbox.photos", { n: row.photos_sent, m: row.photos_total }))
        : null,
      failed ? h("span", { class: "outbox-failed" }, `✗ ${failed}`) : null,
      waiting),
    row.status === "rejected"
      ? h("p", { class: "outbox-reason", "data-testid": "outbox-record-reason" },
        row.reason || row.code, row.reason ? h("span", { class: "outbox-reason-code" }, ` (${row.code})`) : null)
      : null,
    actions.length ? h("div", { class: "outbox-record-actions" }, actions) : null);
}

// ---------------------------------------------------------------------------------------------
// Export: the rescue path when the phone cannot reach the server (or the server refuses).

function blobToBase64(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).replace(/^data:[^,]*,/, ""));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

async function exportOutbox(ctx, button, message) {
  button.disabled = true;
  message.textContent = "";
  try {
    const rows = (await store.listRecords())
      .filter((row) => row.user_id === ctx.me.id && UNSYNCED.includes(row.status));
    const records = [];
    for (const row of rows) {
      const photos = [];
      for (const sha of store.photoHashes(row.record)) {
        const photo = await store.getPhoto(sha);
        photos.push(photo
          ? { sha256: sha, width: photo.width, height: photo.height, type: photo.blob.type || "image/jpeg",
            uploaded: Boolean(photo.uploaded), base64: await blobToBase64(photo.blob) }
          : { sha256: sha, missing: true });
      }
      records.push({ id: row.id, status: row.status, code: row.code, reason: row.reason,
        saved_at: new Date(row.saved_at).toISOString(), record: row.record, photos });
    }
    const body = JSON.stringify({ format: "xunjian-outbox", version: 1, exported_at: new Date().toISOString(),
      user: { id: ctx.me.id, username: ctx.me.username }, records }, null, 1);
    const stamp = new Date().toISOString().slice(0, 16).replace(/[-:]/g, "").replace("T", "-");
    const name = `xunjian-outbox-${ctx.me.username}-${stamp}.json`;
    const url = URL.createObjectURL(new Blob([body], { type: "application/json" }));
    const link = h("a", { href: url, download: name, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 30000);
    message.textContent = t("outbox.export_done", { n: records.length, name });
  } catch (error) {
    console.warn("export failed", error);
    message.textContent = t("outbox.export_failed");
  } finally {
    button.disabled = false;
  }
}
