// Home: who I am, my site and its checkpoints, and big tiles to the jobs. Tiles for screens that
// this version does not have yet are shown disabled with "coming soon", never as dead links.

import { api, NetworkError } from "../api.js";
import { h } from "../dom.js";
import { getLang, t } from "../i18n.js";
import { unsyncedCount } from "../sync.js";

const KINDS = ["facility", "vacant_unit", "signage", "renovation"];
const EVERYONE = ["patrol", "inspector", "dispatcher", "department", "manager", "admin"];

// Icons are fixed markup written here (no data goes into them), 24×24, drawn with currentColor.
const ICONS = {
  scan: '<path d="M4 8V5a1 1 0 0 1 1-1h3M16 4h3a1 1 0 0 1 1 1v3M20 16v3a1 1 0 0 1-1 1h-3M8 20H5a1 1 0 0 1-1-1v-3"/><path d="M7 12h10"/>',
  outbox: '<path d="M12 15V4M8 8l4-4 4 4"/><path d="M4 14v5a1 1 0 0 0 1 1h14a1 1 0 0 0 1-1v-5"/>',
  work_orders: '<rect x="5" y="4" width="14" height="17" rx="1"/><path d="M9 4V3h6v1M9 10h6M9 14h6M9 18h4"/>',
  coverage: '<path d="M9 4 3 6v14l6-2 6 2 6-2V4l-6 2-6-2zM9 4v14M15 6v14"/>',
  records: '<rect x="4" y="3" width="16" height="18" rx="1"/><path d="M8 8h8M8 12h8M8 16h5"/><path d="m15 17 1.5 1.5L19 16"/>',
  labels: '<path d="M3 12V4h8l10 10-8 8L3 12z"/><circle cx="7.5" cy="8.5" r="1.5"/>',
  board: '<rect x="3" y="4" width="18" height="16" rx="1"/><path d="M9 4v16M15 4v16M5 8h2M11 8h2M17 8h2M11 12h2"/>',
  stats: '<path d="M4 20V4M4 20h16"/><path d="M8 16v-4M12 16V8M16 16v-6"/>',
  calendar: '<rect x="3" y="5" width="18" height="16" rx="1"/><path d="M3 10h18M8 3v4M16 3v4M8 14h2M14 14h2M8 17h2"/>',
  plans: '<rect x="4" y="3" width="16" height="18" rx="1"/><path d="M8 8h3M8 12h3M8 16h3"/><circle cx="15.5" cy="13.5" r="3"/><path d="M15.5 12v1.5l1 1"/>',
  renovations: '<path d="M3 21h18M5 21V10l7-6 7 6v11"/><path d="M9 21v-6h6v6"/><path d="m14 3 3-1 2 3-3 2"/>',
  admin: '<circle cx="12" cy="12" r="3"/><path d="M12 2v3M12 19v3M4.2 4.2l2.1 2.1M17.7 17.7l2.1 2.1M2 12h3M19 12h3M4.2 19.8l2.1-2.1M17.7 6.3l2.1-2.1"/>',
};

/** The jobs, in order; `primary` is the big one nearest the thumb. */
const TILES = [
  { id: "outbox", key: "tile.outbox", href: "/app/outbox", roles: EVERYONE },
  { id: "work-orders", icon: "work_orders", key: "tile.work_orders", href: "/app/work-orders",
    roles: EVERYONE },
  { id: "board", key: "tile.board", href: "/app/board", roles: ["dispatcher", "manager", "admin"] },
  { id: "stats", key: "tile.stats", href: "/app/work-orders/stats",
    roles: ["dispatcher", "manager", "admin"] },
  { id: "calendar", key: "tile.calendar", href: "/app/calendar", roles: ["manager", "admin"] },
  { id: "coverage", key: "tile.coverage", href: "/app/coverage",
    roles: ["dispatcher", "manager", "admin"] },
  { id: "records", key: "tile.records", href: "/app/records", roles: EVERYONE },
  { id: "plans", icon: "plans", key: "tile.plans", href: "/app/plans",
    roles: ["dispatcher", "manager", "admin"] },
  { id: "renovations", icon: "renovations", key: "tile.renovations", href: "/app/renovations",
    roles: EVERYONE },
  { id: "renovation-board", icon: "renovations", key: "tile.renovation_board",
    href: "/app/renovations/board", roles: EVERYONE },
  { id: "violations", icon: "renovations", key: "tile.violations", href: "/app/violations",
    roles: EVERYONE },
  { id: "renovation-rules", icon: "renovations", key: "tile.renovation_rules",
    href: "/app/renovations/rules", roles: ["manager", "admin"] },
  { id: "labels", key: "tile.labels", href: "/app/labels", roles: ["manager", "admin"] },
  // The back office is served by the server itself, outside this app: an ordinary link.
  { id: "admin", key: "tile.admin", href: "/admin/", roles: ["admin"], external: true },
  { id: "scan", key: "tile.scan", href: "/app/scan", roles: EVERYONE, primary: true },
];

function icon(name) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", "tile-icon");
  svg.innerHTML = ICONS[name];
  return svg;
}

function tile(spec, available) {
  const cls = `tile${spec.primary ? " tile-primary" : ""}`;
  const label = h("span", { class: "tile-label" }, t(spec.key));
  const glyph = icon(spec.icon || spec.id);
  if (available) {
    return h("a", { class: cls, href: spec.href, "data-testid": `tile-${spec.id}` },
      glyph, h("span", { class: "tile-text" }, label), spec.id === "outbox" ? outboxCount() : null);
  }
  return h("div", { class: `${cls} is-disabled`, "aria-disabled": "true",
    "data-testid": `tile-${spec.id}` },
    glyph, h("span", { class: "tile-text" },
      label, h("span", { class: "tile-badge" }, t("home.coming_soon"))));
}

/** The number of records not yet on the server, kept current while home is shown. */
function outboxCount() {
  const el = h("span", { class: "tile-count", "data-testid": "tile-outbox-count" });
  const show = () => {
    const n = unsyncedCount();
    el.textContent = String(n);
    el.hidden = n === 0;
  };
  const onChange = () => {
    if (el.isConnected) show();
    else window.removeEventListener("xunjian:outbox", onChange);
  };
  window.addEventListener("xunjian:outbox", onChange);
  show();
  return el;
}

function summaryKey(siteId) {
  return `xunjian.summary.${siteId}`;
}

function departmentName(department) {
  if (!department) return null;
  return getLang() === "en" ? department.name_en || department.name_zh : department.name_zh;
}

/** @param {import("../app.js").Ctx} ctx */
export function render(ctx) {
  const { me, site } = ctx;
  const role = [t(`role.${me.role}`), departmentName(me.department)].filter(Boolean).join(" · ");

  const siteCard = h("div", { class: "card site-card", "data-testid": "home-site-card" });
  if (!site) {
    siteCard.append(h("p", { "data-testid": "home-no-site" }, t("home.no_site")));
  } else {
    siteCard.append(
      h("p", { class: "label" }, t("home.my_site")),
      h("p", { class: "site-name", "data-testid": "home-site" }, site.name));
    if (me.sites.length > 1) siteCard.append(siteChooser(ctx));
    siteCard.append(summaryBlock(site));
  }

  const tiles = TILES.filter((spec) => spec.roles.includes(me.role)).map((spec) =>
    tile(spec, spec.external || ctx.hasScreen(spec.href)));

  return h("section", { class: "home", "data-testid": "home-screen" },
    h("div", { class: "home-info" },
      h("div", { class: "greeting" },
        h("h1", { class: "page-title", "data-testid": "home-greeting" },
          t("home.greeting", { name: me.display_name || me.username })),
        h("p", { class: "role-chip", "data-testid": "home-role" }, role)),
      siteCard),
    h("nav", { class: "tiles", "aria-label": t("app.name"), "data-testid": "home-tiles" }, tiles));
}

function siteChooser(ctx) {
  const select = h("select", { class: "input", id: "home-site-select",
    "data-testid": "home-site-select", onchange: () => ctx.setSite(Number(select.value)) },
    ctx.me.sites.map((s) => h("option", { value: String(s.id), selected: s.id === ctx.site.id },
      s.name)));
  return h("div", { class: "field" },
    h("label", { class: "field-label", for: "home-site-select" }, t("home.site_choice")), select);
}

/** Checkpoint counts for the site: loaded after the screen is shown, saved for offline. */
function summaryBlock(site) {
  const block = h("div", { class: "summary", "aria-live": "polite", "data-testid": "home-summary" },
    h("p", { class: "muted" }, t("home.summary_loading")));

  function show(summary, note) {
    const byKind = summary.by_kind || {};
    const parts = [
      h("div", { class: "count-row" },
        h("span", { class: "label" }, t("home.checkpoints")),
        h("span", { class: "count" },
          h("strong", { "data-testid": "home-checkpoints-count" }, String(summary.checkpoints)),
          t("home.checkpoints_unit") ? h("span", null, t("home.checkpoints_unit")) : null)),
      h("ul", { class: "kinds", "data-testid": "home-by-kind" },
        KINDS.map((kind) => h("li", { "data-kind": kind },
          h("span", null, t(`kind.${kind}`)), h("strong", null, String(byKind[kind] ?? 0))))),
      h("p", { class: "muted" }, t("home.buildings", { n: summary.buildings ?? 0 })),
    ];
    if (note) parts.push(h("p", { class: "muted note", "data-testid": "home-summary-note" }, note));
    block.replaceChildren(...parts);
  }

  api(`/api/sites/${site.id}/summary`).then(
    (summary) => {
      try {
        localStorage.setItem(summaryKey(site.id), JSON.stringify(summary));
      } catch {
        // not saved: the numbers are still shown now
      }
      show(summary, null);
    },
    (error) => {
      let saved = null;
      try {
        saved = JSON.parse(localStorage.getItem(summaryKey(site.id)) || "null");
      } catch {
        saved = null;
      }
      if (saved && error instanceof NetworkError) show(saved, t("home.summary_saved"));
      else block.replaceChildren(h("p", { class: "muted" }, t("home.summary_failed")));
    },
  );
  return block;
}
