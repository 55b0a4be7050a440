// Printable reports with a chart and CSV export, in English and Chinese.
"use strict";

const $ = (id) => document.getElementById(id);
const KINDS = ["intervals", "days", "queues", "agents", "dispositions", "sessions", "waits", "total"];
const I18N = {
  en: {
    "app.title": "Reports",
    "link.wallboard": "Wallboard",
    "lang.label": "Language",
    "q.kind": "Report",
    "q.from": "From",
    "q.to": "To",
    "q.interval": "Interval (min)",
    "q.queue": "Queue",
    "q.show": "Show",
    "q.csv": "CSV",
    "q.print": "Print",
    "kind.intervals": "By interval",
    "kind.days": "By day",
    "kind.queues": "By queue",
    "kind.agents": "By agent",
    "kind.dispositions": "By disposition",
    "kind.sessions": "Agent sessions",
    "kind.waits": "Answers and abandons by wait time",
    "kind.total": "Total",
    "empty": "No data in this period.",
    "need_login": "Log in on the wallboard first (supervisors only).",
  },
  zh: {
    "app.title": "报表",
    "link.wallboard": "实时监控大屏",
    "lang.label": "语言",
    "q.kind": "报表",
    "q.from": "开始日期",
    "q.to": "结束日期",
    "q.interval": "时段（分钟）",
    "q.queue": "队列",
    "q.show": "查询",
    "q.csv": "导出 CSV",
    "q.print": "打印",
    "kind.intervals": "按时段",
    "kind.days": "按日",
    "kind.queues": "按队列",
    "kind.agents": "按坐席",
    "kind.dispositions": "按处理结果",
    "kind.sessions": "坐席工作时长",
    "kind.waits": "按等待时长的接听与放弃",
    "kind.total": "合计",
    "empty": "该时段无数据。",
    "need_login": "请先在实时监控大屏登录（仅限班长）。",
  },
};
let lang = hotline.initialLanguage();
if (!I18N[lang]) lang = "en";
const t = (key) => hotline.translate(I18N, lang, key) ?? key;
let last = null;

function query() {
  const p = new URLSearchParams({ from: $("from").value, to: $("to").value, interval: $("interval").value });
  if ($("queue").value) p.set("queue", $("queue").value);
  return p;
}

async function show() {
  const kind = $("kind").value;
  const p = query();
  $("csv").href = `/api/reports/${kind}?${p}&format=csv`;
  const res = await fetch(`/api/reports/${kind}?${p}`, { credentials: "same-origin" });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    $("notice").textContent = res.status === 401 || res.status === 403 ? t("need_login") : body.message || res.statusText;
    $("notice").hidden = false;
    return;
  }
  $("notice").hidden = true;
  last = body;
  render();
}

const fmt = (v) => (v === null || v === undefined ? "" : typeof v === "object" ? Object.entries(v).map(([k, x]) => k + ": " + x).join(", ") : String(v));

function render() {
  if (!last) return;
  $("title").textContent = t("kind." + last.report) + " · " + $("from").value + " – " + $("to").value;
  const rows = last.rows;
  const columns = [];
  for (const r of rows) for (const k of Object.keys(r)) if (!columns.includes(k)) columns.push(k);
  const head = document.createElement("tr");
  for (const c of columns) { const th = document.createElement("th"); th.textContent = c; head.appendChild(th); }
  document.querySelector("#rows thead").replaceChildren(head);
  document.querySelector("#rows tbody").replaceChildren(...(rows.length ? rows.map((r) => {
    const tr = document.createElement("tr");
    for (const c of columns) { const td = document.createElement("td"); td.textContent = fmt(r[c]); tr.appendChild(td); }
    return tr;
  }) : [(() => { const tr = document.createElement("tr"); const td = document.createElement("td"); td.textContent = t("empty"); tr.appendChild(td); return tr; })()]));
  chart(rows);
}

function chart(rows) {
  const svg = $("chart");
  const ok = rows.length && rows[0].offered !== undefined && ["intervals", "days", "queues", "agents"].includes(last.report);
  svg.hidden = !ok;
  if (!ok) return;
  const NS = "http://www.w3.org/2000/svg";
  const el = (n, a, text) => { const e = document.createElementNS(NS, n); for (const [k, v] of Object.entries(a)) e.setAttribute(k, v); if (text !== undefined) e.textContent = text; return e; };
  const W = 800, H = 180, L = 30, B = 20, T = 8;
  const max = Math.max(1, ...rows.map((r) => r.offered));
  const slot = (W - L) / rows.length;
  svg.replaceChildren(el("line", { x1: L, y1: H - B, x2: W, y2: H - B, class: "axis" }), el("text", { x: 2, y: T + 8 }, String(max)));
  let path = "";
  rows.forEach((r, i) => {
    const x = L + i * slot, h = ((H - B - T) * r.offered) / max, ha = ((H - B - T) * r.answered) / max;
    svg.appendChild(el("rect", { x: x + 1, y: H - B - h, width: Math.max(1, slot / 2 - 1), height: h, class: "offered" }));
    svg.appendChild(el("rect", { x: x + slot / 2, y: H - B - ha, width: Math.max(1, slot / 2 - 1), height: ha, class: "answered" }));
    if (r.service_level !== null) path += (path ? " L " : "M ") + (x + slot / 2).toFixed(1) + " " + ((H - B) - (H - B - T) * r.service_level).toFixed(1);
    const name = r.label || r.day || r.queue || r.agent || "";
    if (i % Math.max(1, Math.round(rows.length / 10)) === 0) svg.appendChild(el("text", { x: x, y: H - 5 }, name));
  });
  if (path) svg.appendChild(el("path", { d: path, class: "sl" }));
}

function applyLanguage() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  $("lang").value = lang;
  document.title = t("app.title");
  for (const e of document.querySelectorAll("[data-i18n]")) e.textContent = t(e.dataset.i18n);
  const kind = $("kind").value || "intervals";
  $("kind").replaceChildren(...KINDS.map((k) => { const o = document.createElement("option"); o.value = k; o.textContent = t("kind." + k); return o; }));
  $("kind").value = kind;
  render();
}
$("lang").addEventListener("change", () => { lang = $("lang").value; localStorage.setItem("hotline.lang", lang); applyLanguage(); });
$("query").addEventListener("submit", (ev) => { ev.preventDefault(); show(); });
$("print").addEventListener("click", () => window.print());

const today = new Date().toISOString().slice(0, 10);
$("from").value = today;
$("to").value = today;
applyLanguage();
show();
