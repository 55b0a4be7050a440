// The supervisors' wallboard: live figures pushed over the WebSocket
// ("wallboard.update" frames, whole, and "wallboard.delta" frames, the changes
// in between), in English and Chinese. ?tv=1: TV mode (large,
// no controls); ?lang=zh|en picks the language. Plain JS, no build step.
"use strict";

const $ = (id) => document.getElementById(id);
const I18N = {
  en: {
    "app.title": "Wallboard",
    "conn.on": "live",
    "conn.off": "offline",
    "conn.retry": "reconnecting…",
    "link.reports": "Reports",
    "link.tv": "TV mode",
    "lang.label": "Language",
    "login.title": "Supervisor log in",
    "login.username": "User name",
    "login.password": "Password",
    "login.submit": "Log in",
    "login.not_supervisor": "This page is for supervisors.",
    "tile.waiting": "Waiting",
    "tile.longest": "Longest wait",
    "tile.sl_today": "SL today",
    "tile.sl_window": "SL last 30 min",
    "tile.answer_rate": "Answer rate",
    "tile.abandon_rate": "Abandon rate",
    "tile.answered": "Answered",
    "tile.target": "target {target}",
    "tile.csat": "CSAT today",
    "tile.nps": "NPS today",
    "tile.nps_answers": "{n} answers",
    "alarms.title": "Alarms",
    "alarms.none": "No alarm.",
    "escalation.text": "Red flag \"{tag}\" on call {call} (agent {agent}) at {at} s: review it on the QA page",
    "alarm.cleared_text": "{queue}: alarm {rule} cleared",
    "alarm.service_level": "{queue}: service level {value} below {threshold}",
    "alarm.longest_wait": "{queue}: a caller waits {value} s (over {threshold} s)",
    "alarm.waiting_calls": "{queue}: {value} calls waiting (over {threshold})",
    "alarm.abandon_rate": "{queue}: abandon rate {value} over {threshold}",
    "alarm.agents_ready": "{queue}: {value} agents ready (under {threshold})",
    "alarm.qa_red_flags": "{queue}: {value} calls with QA red flags (over {threshold})",
    "alarm.all_calls": "All calls",
    "queues.title": "Queues",
    "agents.title": "Agents",
    "col.queue": "Queue",
    "col.waiting": "Waiting",
    "col.longest": "Longest wait",
    "col.sl_today": "SL today",
    "col.sl_window": "SL 30 min",
    "col.target": "Target",
    "col.offered": "Offered",
    "col.answered": "Answered",
    "col.abandoned": "Abandoned",
    "col.answer_rate": "Answer rate",
    "col.abandon_rate": "Abandon rate",
    "col.asa": "ASA",
    "col.aht": "AHT",
    "col.agents": "Agents",
    "col.agent": "Agent",
    "col.state": "State",
    "col.reason": "Reason",
    "col.in_state": "Time in state",
    "col.occupancy": "Occupancy",
    "agents.counts": "{ready} ready · {talking} talking · {paused} paused",
    "chart.calls": "Calls per 15 min today",
    "chart.sl": "Service level per 15 min today",
    "chart.empty": "No calls yet today",
    "state.logged_out": "Logged out",
    "state.ready": "Ready",
    "state.paused": "Paused",
    "state.ringing": "Ringing",
    "state.talking": "Talking",
    "state.wrap_up": "Wrap-up",
    "reason.break": "Break",
    "reason.lunch": "Lunch",
    "reason.training": "Training",
    "reason.meeting": "Meeting",
    "reason.coaching": "Coaching",
    "reason.login": "Just logged in",
    "reason.wrap-up": "Wrap-up",
    "reason.rona": "Did not answer",
    "reason.restart": "CTI restarted",
    "queue.general": "General",
    "queue.billing": "Billing",
    "queue.technical": "Technical",
    "queue.account": "Account",
    "err.bad_credentials": "Wrong user name or password.",
    "err.session_expired": "Your session has expired: log in again.",
    "err.network": "The server cannot be reached.",
    "crisis.title": "Crisis mode",
    "crisis.banner": "Crisis mode ON: profile \"{profile}\" since {since} (by {by}). New calls get its flow and routes.",
    "crisis.off_state": "Normal flow and routes.",
    "crisis.on": "Turn on",
    "crisis.off": "Turn off",
    "crisis.confirm_on": "Turn on crisis profile \"{profile}\" for every new call?",
    "crisis.confirm_off": "Turn crisis mode off (normal flow and routes for new calls)?",
    "crisis.refused": "Refused, the running flow and routes are kept:",
    "err.invalid_profile": "The profile's files are not valid.",
    "err.unknown_profile": "No such profile.",
  },
  zh: {
    "app.title": "实时监控大屏",
    "conn.on": "实时",
    "conn.off": "离线",
    "conn.retry": "正在重新连接…",
    "link.reports": "报表",
    "link.tv": "电视模式",
    "lang.label": "语言",
    "login.title": "班长登录",
    "login.username": "用户名",
    "login.password": "密码",
    "login.submit": "登录",
    "login.not_supervisor": "此页面仅供班长使用。",
    "tile.waiting": "排队中",
    "tile.longest": "最长等待",
    "tile.sl_today": "今日服务水平",
    "tile.sl_window": "近30分钟服务水平",
    "tile.answer_rate": "接通率",
    "tile.abandon_rate": "放弃率",
    "tile.answered": "已接听",
    "tile.target": "目标 {target}",
    "tile.csat": "今日满意度",
    "tile.nps": "今日净推荐值",
    "tile.nps_answers": "{n} 个回答",
    "alarms.title": "告警",
    "alarms.none": "无告警。",
    "escalation.text": "通话 {call}（坐席 {agent}）在 {at} 秒处出现红色警示“{tag}”：请在质检页面复核",
    "alarm.cleared_text": "{queue}：告警 {rule} 已解除",
    "alarm.service_level": "{queue}：服务水平 {value} 低于 {threshold}",
    "alarm.longest_wait": "{queue}：有来电已等待 {value} 秒（超过 {threshold} 秒）",
    "alarm.waiting_calls": "{queue}：{value} 通来电排队（超过 {threshold}）",
    "alarm.abandon_rate": "{queue}：放弃率 {value} 超过 {threshold}",
    "alarm.agents_ready": "{queue}：空闲坐席 {value} 名（少于 {threshold}）",
    "alarm.qa_red_flags": "{queue}：{value} 通来电出现质检红色警示（超过 {threshold}）",
    "alarm.all_calls": "全部来电",
    "queues.title": "队列",
    "agents.title": "坐席",
    "col.queue": "队列",
    "col.waiting": "排队中",
    "col.longest": "最长等待",
    "col.sl_today": "今日服务水平",
    "col.sl_window": "近30分钟服务水平",
    "col.target": "目标",
    "col.offered": "进线",
    "col.answered": "接听",
    "col.abandoned": "放弃",
    "col.answer_rate": "接通率",
    "col.abandon_rate": "放弃率",
    "col.asa": "平均应答时间",
    "col.aht": "平均处理时长",
    "col.agents": "坐席",
    "col.agent": "坐席",
    "col.state": "状态",
    "col.reason": "原因",
    "col.in_state": "当前状态时长",
    "col.occupancy": "占用率",
    "agents.counts": "空闲 {ready} · 通话 {talking} · 暂停 {paused}",
    "chart.calls": "今日每15分钟来电量",
    "chart.sl": "今日每15分钟服务水平",
    "chart.empty": "今日尚无来电",
    "state.logged_out": "已登出",
    "state.ready": "就绪",
    "state.paused": "暂停",
    "state.ringing": "振铃中",
    "state.talking": "通话中",
    "state.wrap_up": "话后处理",
    "reason.break": "休息",
    "reason.lunch": "午餐",
    "reason.training": "培训",
    "reason.meeting": "会议",
    "reason.coaching": "辅导",
    "reason.login": "刚登录",
    "reason.wrap-up": "话后处理",
    "reason.rona": "振铃未接",
    "reason.restart": "CTI 已重启",
    "queue.general": "综合",
    "queue.billing": "账单",
    "queue.technical": "技术支持",
    "queue.account": "账户",
    "err.bad_credentials": "用户名或密码错误。",
    "err.session_expired": "会话已过期，请重新登录。",
    "err.network": "无法连接服务器。",
    "crisis.title": "应急模式",
    "crisis.banner": "应急模式已开启：方案“{profile}”，自 {since} 起（{by} 开启）。新来电使用该方案的流程和路由。",
    "crisis.off_state": "正常流程和路由。",
    "crisis.on": "开启",
    "crisis.off": "关闭",
    "crisis.confirm_on": "对所有新来电开启应急方案“{profile}”？",
    "crisis.confirm_off": "关闭应急模式（新来电恢复正常流程和路由）？",
    "crisis.refused": "已拒绝，保留当前的流程和路由：",
    "err.invalid_profile": "该方案的文件无效。",
    "err.unknown_profile": "没有这个方案。",
  },
};

const params = new URLSearchParams(location.search);
const tv = params.get("tv") === "1";
let lang = params.get("lang") || hotline.initialLanguage();
if (!I18N[lang]) lang = "en";

function t(key, vars) {
  const text = hotline.translate(I18N, lang, key, vars);
  return text === undefined ? undefined : text;
}
const label = (prefix, code) => (code ? t(prefix + "." + code) || code : "");

let data = null; // the last wallboard.update
let dataAt = 0; // Date.now() when it arrived (waits and times grow from there)
let ws = null;
let retry = 500;
let reconnectTimer = null;

const { ApiError } = hotline;
const api = hotline.request;

const errorText = (err) => (err && err.code && t("err." + err.code)) || (err && err.message) || String(err);
function notice(text) { $("notice").textContent = text || ""; $("notice").hidden = !text; }

// ------------------------------------------------------------------ formatting
const pct = (v) => (v === null || v === undefined ? "-" : Math.round(v * 1000) / 10 + "%");
const secs = (v) => (v === null || v === undefined ? "-" : Math.round(v) + " s");
function mmss(s) {
  s = Math.max(0, Math.floor(s));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  const mm = (h ? String(m).padStart(2, "0") : String(m)) + ":" + String(s % 60).padStart(2, "0");
  return h ? h + ":" + mm : mm;
}
const grown = (s) => s + (Date.now() - dataAt) / 1000;

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

function versus(el, value, target) {
  el.classList.remove("good", "bad");
  if (value !== null && value !== undefined && target !== null && target !== undefined) {
    el.classList.add(value >= target ? "good" : "bad");
  }
}

// ------------------------------------------------------------------ rendering
function render() {
  if (!data) return;
  $("date").textContent = data.date;
  const total = data.total;
  $("t-waiting").textContent = total.waiting;
  $("t-sl-today").textContent = pct(total.today.service_level);
  versus($("t-sl-today"), total.today.service_level, data.target);
  $("t-sl-window").textContent = pct(total.window.service_level);
  versus($("t-sl-window"), total.window.service_level, data.target);
  $("t-target").textContent = t("tile.target", { target: pct(data.target) });
  $("t-answer").textContent = pct(total.today.answer_rate);
  $("t-abandon").textContent = pct(total.today.abandon_rate);
  $("t-answered").textContent = total.today.answered;
  $("t-csat").textContent = total.today.csat === null || total.today.csat === undefined ? "-" : total.today.csat.toFixed(2);
  const nps = total.today.nps;
  $("t-nps").textContent = nps === null || nps === undefined ? "-" : (nps > 0 ? "+" : "") + nps;
  $("t-nps-answers").textContent = t("tile.nps_answers", { n: total.today.nps_answers || 0 });

  const qbody = document.querySelector("#queues tbody");
  qbody.replaceChildren(...data.queues.map((q) => {
    const tr = document.createElement("tr");
    tr.dataset.queue = q.queue;
    cell(tr, label("queue", q.queue));
    cell(tr, q.waiting, "num waiting");
    cell(tr, "", "num longest");
    versus(cell(tr, pct(q.today.service_level), "num sl-today"), q.today.service_level, q.target);
    versus(cell(tr, pct(q.window.service_level), "num sl-window"), q.window.service_level, q.target);
    cell(tr, pct(q.target) + " / " + q.threshold_s + " s", "num");
    cell(tr, q.today.offered, "num offered");
    cell(tr, q.today.answered, "num answered");
    cell(tr, q.today.abandoned, "num abandoned");
    cell(tr, pct(q.today.answer_rate), "num");
    cell(tr, pct(q.today.abandon_rate), "num");
    cell(tr, secs(q.today.asa_s), "num");
    cell(tr, secs(q.today.aht_s), "num");
    cell(tr, t("agents.counts", { ready: q.agents.ready, talking: q.agents.talking + q.agents.ringing, paused: q.agents.paused + q.agents.wrap_up }));
    return tr;
  }));

  const abody = document.querySelector("#agents tbody");
  abody.replaceChildren(...data.agents.map((a) => {
    const tr = document.createElement("tr");
    tr.dataset.state = a.state;
    tr.dataset.agent = a.agent_id;
    cell(tr, a.agent_id + (a.name && a.name !== a.agent_id ? " · " + a.name : ""));
    cell(tr, label("state", a.state), "state");
    cell(tr, a.state === "paused" || a.state === "wrap_up" ? label("reason", a.reason) : "");
    cell(tr, "", "num in-state");
    cell(tr, a.answered_today, "num");
    cell(tr, pct(a.occupancy), "num");
    return tr;
  }));

  const list = $("alarms");
  const shown = data.alarms.concat(data.recent_alarms.filter((a) => a.cleared_at).slice(0, 5));
  $("no-alarms").hidden = data.alarms.length > 0;
  list.replaceChildren(...shown.map((a) => {
    const li = document.createElement("li");
    li.className = a.cleared_at ? "cleared" : a.severity;
    li.dataset.rule = a.rule;
    const fmt = (v) => (["service_level", "abandon_rate"].includes(a.kind) ? pct(v) : Math.round(v));
    const everyCall = a.kind === "qa_red_flags" && a.queue === "all";
    const queue = everyCall ? t("alarm.all_calls") : label("queue", a.queue);
    const vars = { queue, rule: a.rule, value: fmt(a.value), threshold: fmt(a.threshold) };
    const at = new Date((a.cleared_at || a.raised_at) * 1000).toLocaleTimeString(lang === "zh" ? "zh-CN" : "en-GB");
    const text = at + " " + (a.cleared_at ? t("alarm.cleared_text", vars) : t("alarm." + a.kind, vars));
    li.textContent = text;
    return li;
  }));
  renderCharts();
  tick();
}

// a red-flag tag a transcript was given (complaint, regulator...): newest first, kept 20
function showEscalation(e) {
  const li = document.createElement("li");
  li.className = "critical escalation";
  li.dataset.call = e.call_id;
  const at = new Date().toLocaleTimeString(lang === "zh" ? "zh-CN" : "en-GB");
  const vars = { tag: e.tag, call: e.call_id, agent: e.agent_id || "-", at: e.start_s == null ? "-" : Math.round(e.start_s) };
  const link = document.createElement("a");
  link.href = "/qa";
  link.textContent = at + " " + t("escalation.text", vars);
  li.append(link);
  const list = $("escalations");
  list.prepend(li);
  while (list.children.length > 20) list.lastChild.remove();
}

function tick() {
  if (!data) return;
  const waiting = data.total.waiting > 0;
  $("t-longest").textContent = mmss(waiting ? grown(data.total.longest_wait_s) : 0);
  for (const q of data.queues) {
    const el = document.querySelector(`#queues tr[data-queue="${CSS.escape(q.queue)}"] .longest`);
    if (el) el.textContent = mmss(q.waiting ? grown(q.longest_wait_s) : 0);
  }
  for (const a of data.agents) {
    const el = document.querySelector(`#agents tr[data-agent="${CSS.escape(a.agent_id)}"] .in-state`);
    if (el) el.textContent = a.since_s === null ? "" : mmss(grown(a.since_s));
  }
}
setInterval(tick, 500);

const SVG = "http://www.w3.org/2000/svg";
function svgEl(name, attrs, text) {
  const el = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

function renderCharts() {
  const rows = data.intervals;
  const calls = $("chart-calls"), sl = $("chart-sl");
  const W = 600, H = 160, L = 28, B = 18, T = 6;
  for (const svg of [calls, sl]) svg.replaceChildren(svgEl("line", { x1: L, y1: H - B, x2: W, y2: H - B, class: "axis" }));
  if (!rows.length) {
    for (const svg of [calls, sl]) svg.appendChild(svgEl("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, t("chart.empty")));
    return;
  }
  // the day's span so far: from the first interval with calls to the last
  const first = rows[0].start, last = rows[rows.length - 1].start;
  const n = Math.max(16, Math.round((last - first) / 900) + 1); // bars keep a sane width
  const slot = (W - L) / n;
  const max = Math.max(1, ...rows.map((r) => r.offered));
  calls.appendChild(svgEl("text", { x: 2, y: T + 8 }, String(max)));
  sl.appendChild(svgEl("text", { x: 2, y: T + 8 }, "100%"));
  const ty = (H - B) - (H - B - T) * (data.target || 0);
  sl.appendChild(svgEl("line", { x1: L, y1: ty, x2: W, y2: ty, class: "target" }));
  let path = "";
  for (const r of rows) {
    const i = Math.round((r.start - first) / 900);
    const x = L + i * slot;
    const h = (v) => ((H - B - T) * v) / max;
    const bw = Math.max(1, slot / 3 - 1);
    calls.appendChild(svgEl("rect", { x: x, y: H - B - h(r.offered), width: bw, height: h(r.offered), class: "offered" }));
    calls.appendChild(svgEl("rect", { x: x + bw, y: H - B - h(r.answered), width: bw, height: h(r.answered), class: "answered" }));
    calls.appendChild(svgEl("rect", { x: x + 2 * bw, y: H - B - h(r.abandoned), width: bw, height: h(r.abandoned), class: "abandoned" }));
    if (r.service_level !== null) {
      const y = (H - B) - (H - B - T) * r.service_level;
      path += (path ? " L " : "M ") + (x + slot / 2).toFixed(1) + " " + y.toFixed(1);
      sl.appendChild(svgEl("circle", { cx: x + slot / 2, cy: y, r: 2.5, class: "sl" }));
    }
    if (i % Math.max(1, Math.round(n / 8)) === 0) {
      for (const svg of [calls, sl]) svg.appendChild(svgEl("text", { x: x, y: H - 4 }, r.label));
    }
  }
  if (path) sl.appendChild(svgEl("path", { d: path, class: "sl" }));
}

// ------------------------------------------------------------------ language
function applyLanguage() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  $("lang").value = lang;
  document.title = t("app.title");
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  renderConn();
  render();
}
$("lang").addEventListener("change", () => {
  lang = $("lang").value;
  localStorage.setItem("hotline.lang", lang);
  applyLanguage();
});

function renderConn() {
  const on = ws && ws.readyState === WebSocket.OPEN;
  $("conn").textContent = on ? t("conn.on") : (reconnectTimer ? t("conn.retry") : t("conn.off"));
  $("conn").className = on ? "on" : "off";
}

// ------------------------------------------------------------------ session, socket
function showLogin(message) {
  $("board-view").hidden = true;
  $("login-view").hidden = false;
  $("login-error").textContent = message || "";
}

async function start() {
  let me;
  try {
    me = await api("/api/me");
  } catch (err) {
    showLogin(err.code === "session_expired" ? errorText(err) : "");
    return;
  }
  if (!["supervisor", "admin"].includes(me.role)) {
    showLogin(t("login.not_supervisor"));
    return;
  }
  $("login-view").hidden = true;
  $("board-view").hidden = false;
  connect();
}

// A whole board: a wallboard.update frame (taken), or read when the socket opens
// or a delta did not fit (taken unless the board held is newer); the deltas that
// came meanwhile and follow it are applied.
let refreshing = false;
let pending = []; // deltas that did not fit the board held, waiting for a whole one
function takeBoard(board, read) {
  if (read && data && board.seq < data.seq) return;
  data = board;
  dataAt = Date.now();
  const waiting = pending.sort((a, b) => a.seq - b.seq);
  pending = [];
  for (const d of waiting) if (d.base === data.seq) patchBoard(d);
  render();
}

async function refresh() {
  try {
    takeBoard(await api("/api/wallboard"), true);
  } catch (err) {
    if (err.status === 401) showLogin(errorText(err)); else notice(errorText(err));
  }
}

const isMap = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
function patch(target, changes) {
  for (const [k, v] of Object.entries(changes)) {
    if (isMap(v) && isMap(target[k])) patch(target[k], v); else target[k] = v;
  }
}
const byKey = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

// A wallboard.delta changes the board held (its seq is the delta's base): the
// top-level fields in `changed` are replaced, `total` and each queue in `queues`
// patched (only the keys that changed), the rows in `intervals` and `agents`
// replaced or added, those in `*_gone` dropped, `occupancy` set; times in state
// and longest waits grow by the time between the two frames. Any other base:
// the whole board is read again (the deltas meanwhile kept).
function patchBoard(d) {
  const aged = d.at - data.at;
  for (const a of data.agents) if (a.since_s !== null) a.since_s += aged;
  for (const q of [data.total, ...data.queues]) if (q.waiting) q.longest_wait_s += aged;
  Object.assign(data, d.changed);
  patch(data.total, d.total || {});
  for (const [field, key] of [["queues", "queue"], ["intervals", "start"], ["agents", "agent_id"]]) {
    const rows = new Map(data[field].map((r) => [r[key], r]));
    for (const gone of d[field + "_gone"] || []) rows.delete(gone);
    for (const r of d[field] || []) {
      if (field === "queues" && rows.has(r[key])) patch(rows.get(r[key]), r); else rows.set(r[key], r);
    }
    data[field] = [...rows.keys()].sort(byKey).map((k) => rows.get(k));
  }
  for (const a of data.agents) if (d.occupancy && a.agent_id in d.occupancy) a.occupancy = d.occupancy[a.agent_id];
  data.at = d.at;
  data.seq = d.seq;
  dataAt = Date.now();
}

function applyDelta(d) {
  if (data && d.base === data.seq) { patchBoard(d); render(); return; }
  if (data && d.seq <= data.seq) return; // the board held is newer
  pending.push(d);
  if (pending.length > 500) pending.shift();
  if (!refreshing) { refreshing = true; refresh().finally(() => { refreshing = false; }); }
}

function connect() {
  const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws?feed=wallboard";
  ws = new WebSocket(url);
  ws.addEventListener("open", () => {
    data = null; pending = []; // a new socket: its boards are numbered anew (a restart)
    retry = 500; notice(""); renderConn(); refresh();
    window.dispatchEvent(new Event("hotline:connected")); // other panels (crisis.js) load
  });
  ws.addEventListener("message", (msg) => {
    let frame;
    try { frame = JSON.parse(msg.data); } catch { return; }
    if (frame.v !== 1) return;
    if (frame.type === "wallboard.update") takeBoard(frame.data, false);
    if (frame.type === "wallboard.delta") applyDelta(frame.data);
    if (frame.type === "qa.escalation") showEscalation(frame.data);
    window.dispatchEvent(new CustomEvent("hotline:frame", { detail: frame }));
  });
  ws.addEventListener("close", (ev) => {
    ws = null;
    if (ev.code === 4401 || ev.code === 4403) { showLogin(ev.code === 4401 ? t("err.session_expired") : ""); renderConn(); return; }
    reconnectTimer = setTimeout(() => { reconnectTimer = null; start(); }, retry);
    retry = Math.min(retry * 2, 10000);
    renderConn();
  });
}

$("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    await api("/api/login", { username: $("username").value, password: $("password").value });
    $("password").value = "";
    await start();
  } catch (err) {
    $("login-error").textContent = errorText(err);
  }
});

if (tv) document.body.classList.add("tv");
applyLanguage();
start();
