// Every string the person sees, Chinese first, English second, and `t(key)` to look one up.
// The choice is kept in localStorage; Chinese is the default whatever the phone's language,
// because the product's working language is Chinese. The server's error messages follow the same
// choice through the Accept-Language header that api.js sends.

const STORAGE_KEY = "xunjian.lang";

/** @typedef {"zh-CN" | "en"} Lang */

/** @type {Record<Lang, Record<string, string>>} */
const STRINGS = {
  "zh-CN": {
    "app.name": "巡检",
    "app.loading": "正在加载…",
    "lang.switch": "EN",
    "lang.switch_label": "Switch to English",
    "nav.logout": "退出登录",
    "net.offline": "离线：连不上服务器",
    "update.available": "新版本可用",
    "update.apply": "立即更新",
    "update.blocked": "请先完成当前表单或同步，再更新",
    "error.generic": "出错了，请稍后再试",
    "error.offline": "无法连接服务器，请检查网络后重试",
    "login.title": "登录",
    "login.subtitle": "物业巡检",
    "login.username": "用户名",
    "login.password": "密码",
    "login.show_password": "显示",
    "login.hide_password": "隐藏",
    "login.show_password_label": "显示密码",
    "login.hide_password_label": "隐藏密码",
    "login.submit": "登录",
    "login.submitting": "正在登录…",
    "login.missing": "请输入用户名和密码",
    "home.greeting": "你好，{name}",
    "home.my_site": "我的项目",
    "home.no_site": "您还没有分配项目，请联系管理员",
    "home.site_choice": "切换项目",
    "home.checkpoints": "我的检查点",
    "home.checkpoints_unit": "个",
    "home.buildings": "{n} 栋楼",
    "home.summary_loading": "正在加载检查点…",
    "home.summary_failed": "检查点数量暂时无法加载",
    "home.summary_saved": "离线：显示上次保存的数据",
    "home.coming_soon": "即将推出",
    "kind.facility": "设施设备",
    "kind.vacant_unit": "空置房",
    "kind.signage": "标识",
    "kind.renovation": "装修单元",
    "tile.scan": "扫码巡检",
    "tile.outbox": "待同步",
    "tile.work_orders": "工单",
    "tile.coverage": "巡检覆盖",
    "checkpoint.reissue": "重新打印此标签",
    "checkpoint.reissue_hint": "标签损坏时重新打印：旧标签将作废，扫描时会被拒绝。",
    "checkpoint.reissue_confirm": "重新打印后旧标签立即作废，确定吗？",
    "labels.title": "标签打印",
    "labels.loading": "正在读取楼栋…",
    "labels.building": "楼栋",
    "labels.floor": "楼层",
    "labels.kind": "类型",
    "labels.layout": "版式",
    "labels.all_buildings": "全部楼栋",
    "labels.all_floors": "全部楼层",
    "labels.all_kinds": "全部类型",
    "labels.layout_dense": "室内贴纸（每页 24 个）",
    "labels.layout_plate": "设施铭牌（每页 6 个）",
    "labels.download": "下载 PDF",
    "labels.rendering": "正在生成标签，请稍候…",
    "labels.done": "已下载 {name}",
    "labels.offline": "离线：连上服务器后才能生成标签",
    "tile.labels": "标签打印",
    "tile.admin": "后台管理",
    "role.patrol": "楼管员",
    "role.inspector": "巡查员",
    "role.dispatcher": "信息处理员",
    "role.department": "部门处理人",
    "role.manager": "主管",
    "role.admin": "系统管理员",
    "checkpoint.title": "检查点",
    "checkpoint.code": "编号",
    "checkpoint.home": "返回首页",
    "scan.title": "扫码巡检",
    "scan.starting": "正在打开相机…",
    "scan.hint": "把标签上的二维码放进框内",
    "scan.checking": "正在核对标签…",
    "scan.not_our_label": "不是本系统的标签",
    "scan.error.unknown_checkpoint": "找不到这个检查点",
    "scan.error.label_revoked": "此标签已作废，请使用新标签",
    "scan.error.bad_signature": "标签无效",
    "scan.continue": "继续扫码",
    "scan.torch": "手电筒",
    "scan.manual_open": "手动输入编号",
    "scan.manual_close": "收起手动输入",
    "scan.manual_label": "标签上印的编号",
    "scan.manual_submit": "打开检查点",
    "scan.manual_notice": "手动输入，未验证：这次检查会记录为未经扫码核实。",
    "scan.manual_invalid": "请输入标签上的编号（字母、数字和 -）",
    "scan.camera_denied": "没有相机权限。请在浏览器设置中允许本网站使用相机，或在下面手动输入编号。",
    "scan.camera_missing": "找不到可用的相机。请在下面手动输入编号。",
    "scan.camera_busy": "相机正被其他应用占用。关闭后重试，或在下面手动输入编号。",
    "scan.camera_insecure": "相机只能在安全连接（HTTPS）下使用。请在下面手动输入编号，并告知管理员。",
    "scan.decoder_failed": "识别组件加载失败。请在下面手动输入编号。",
    "scan.retry": "重试相机",
  },
  en: {
    "app.name": "Xunjian",
    "app.loading": "Loading…",
    "lang.switch": "中文",
    "lang.switch_label": "切换到中文",
    "nav.logout": "Log out",
    "net.offline": "Offline: cannot reach the server",
    "update.available": "Update available",
    "update.apply": "Update now",
    "update.blocked": "Finish the open form or sync first, then update",
    "error.generic": "Something went wrong, please try again",
    "error.offline": "Cannot reach the server. Check the network and try again",
    "login.title": "Log in",
    "login.subtitle": "Property inspection",
    "login.username": "Username",
    "login.password": "Password",
    "login.show_password": "Show",
    "login.hide_password": "Hide",
    "login.show_password_label": "Show password",
    "login.hide_password_label": "Hide password",
    "login.submit": "Log in",
    "login.submitting": "Logging in…",
    "login.missing": "Enter your username and password",
    "home.greeting": "Hello, {name}",
    "home.my_site": "My site",
    "home.no_site": "You have no site yet. Ask an administrator",
    "home.site_choice": "Switch site",
    "home.checkpoints": "My checkpoints",
    "home.checkpoints_unit": "",
    "home.buildings": "Buildings: {n}",
    "home.summary_loading": "Loading checkpoints…",
    "home.summary_failed": "Checkpoint count is not available right now",
    "home.summary_saved": "Offline: showing the last saved numbers",
    "home.coming_soon": "Coming soon",
    "kind.facility": "Facilities",
    "kind.vacant_unit": "Vacant units",
    "kind.signage": "Signage",
    "kind.renovation": "Renovations",
    "tile.scan": "Scan",
    "tile.outbox": "Outbox",
    "tile.work_orders": "Work orders",
    "tile.coverage": "Coverage",
    "checkpoint.reissue": "Re-issue this label",
    "checkpoint.reissue_hint": "For a damaged label: the old label stops working and is refused when scanned.",
    "checkpoint.reissue_confirm": "The old label stops working at once. Re-issue?",
    "labels.title": "Print labels",
    "labels.loading": "Loading buildings…",
    "labels.building": "Building",
    "labels.floor": "Floor",
    "labels.kind": "Kind",
    "labels.layout": "Layout",
    "labels.all_buildings": "All buildings",
    "labels.all_floors": "All floors",
    "labels.all_kinds": "All kinds",
    "labels.layout_dense": "Indoor stickers (24 a page)",
    "labels.layout_plate": "Facility plates (6 a page)",
    "labels.download": "Download PDF",
    "labels.rendering": "Making the labels, please wait…",
    "labels.done": "Downloaded {name}",
    "labels.offline": "Offline: labels can be made once the server is reachable",
    "tile.labels": "Labels",
    "tile.admin": "Back office",
    "role.patrol": "Patrol officer",
    "role.inspector": "Inspector",
    "role.dispatcher": "Dispatcher",
    "role.department": "Department staff",
    "role.manager": "Manager",
    "role.admin": "Administrator",
    "checkpoint.title": "Checkpoint",
    "checkpoint.code": "Code",
    "checkpoint.home": "Back to home",
    "scan.title": "Scan",
    "scan.starting": "Opening the camera…",
    "scan.hint": "Fit the label's QR code inside the frame",
    "scan.checking": "Checking the label…",
    "scan.not_our_label": "Not one of our labels",
    "scan.error.unknown_checkpoint": "Unknown checkpoint",
    "scan.error.label_revoked": "This label has been replaced. Use the new label",
    "scan.error.bad_signature": "This label is not valid",
    "scan.continue": "Scan again",
    "scan.torch": "Torch",
    "scan.manual_open": "Type the code",
    "scan.manual_close": "Hide typing",
    "scan.manual_label": "Code printed on the label",
    "scan.manual_submit": "Open checkpoint",
    "scan.manual_notice": "Typed in, not verified: this check is recorded as not scanned.",
    "scan.manual_invalid": "Enter the code from the label (letters, digits and -)",
    "scan.camera_denied": "No camera permission. Allow the camera for this site in the browser settings, or type the code below.",
    "scan.camera_missing": "No camera found. Type the code below.",
    "scan.camera_busy": "Another app is using the camera. Close it and try again, or type the code below.",
    "scan.camera_insecure": "The camera needs a secure (HTTPS) connection. Type the code below and tell your administrator.",
    "scan.decoder_failed": "The code reader could not load. Type the code below.",
    "scan.retry": "Try the camera again",
  },
};

/** @type {Lang[]} */
export const LANGS = ["zh-CN", "en"];

function readStoredLang() {
  try {
    const stored = localStorage.getItem(STORAGE_KEY);
    return LANGS.includes(/** @type {Lang} */ (stored)) ? /** @type {Lang} */ (stored) : "zh-CN";
  } catch {
    return "zh-CN"; // storage blocked (private mode): Chinese for this visit
  }
}

/** @type {Lang} */
let current = readStoredLang();

/** @returns {Lang} */
export function getLang() {
  return current;
}

/** @param {Lang} lang */
export function setLang(lang) {
  if (!LANGS.includes(lang)) throw new Error(`unknown language ${lang}`);
  current = lang;
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    // keep the choice for this visit only
  }
  document.documentElement.lang = lang;
}

/**
 * The string for `key` in the current language, with `{name}` placeholders filled from `params`.
 * A key missing in English falls back to Chinese; a key missing everywhere is shown as the key,
 * so a gap is visible rather than blank.
 * @param {string} key
 * @param {Record<string, string | number>} [params]
 */
export function t(key, params) {
  const text = STRINGS[current][key] ?? STRINGS["zh-CN"][key] ?? key;
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/**
 * Add a screen's own strings (kept beside the screen that shows them). A key defined twice is a
 * mistake that would show one screen the other's words, so it throws.
 * @param {Record<Lang, Record<string, string>>} table
 */
export function addStrings(table) {
  for (const lang of LANGS) {
    for (const [key, text] of Object.entries(table[lang] || {})) {
      if (key in STRINGS[lang]) throw new Error(`string ${key} defined twice`);
      STRINGS[lang][key] = text;
    }
  }
}

/** Both tables, for tests and for checking that every key exists in both languages. */
export const _strings = STRINGS;
