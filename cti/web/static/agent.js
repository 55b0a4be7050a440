"use strict";
// Agent desktop: login, state control, screen-pop, call control and
// dispositions over the HTTP API and the WebSocket (protocol v1, see README).
// Plain JS, no build step. Every UI string is in I18N, in English and Chinese.

const $ = (id) => document.getElementById(id);
const PROTOCOL = 1;

const I18N = {
  en: {
    "app.title": "hotline · agent desk",
    "conn.on": "online", "conn.off": "offline", "conn.retry": "reconnecting…",
    "lang.label": "Language",
    "login.title": "Log in", "login.username": "Agent number", "login.password": "Password",
    "login.submit": "Log in",
    "state.label": "State",
    "state.logged_out": "Logged out", "state.ready": "Ready", "state.paused": "Paused",
    "state.ringing": "Ringing", "state.talking": "On a call", "state.wrap_up": "Wrap-up",
    "reason.break": "Break", "reason.lunch": "Lunch", "reason.training": "Training",
    "reason.meeting": "Meeting", "reason.coaching": "Coaching", "reason.login": "Just logged in",
    "reason.wrap-up": "Wrap-up",
    "wrapup.left": "Wrap-up ends in",
    "aria.pause_reason": "Pause reason",
    "btn.ready": "Ready", "btn.pause": "Pause", "btn.logout": "Log out", "btn.hangup": "Hang up",
    "btn.transfer": "Transfer", "btn.save": "Save disposition",
    "btn.rec_pause": "Pause recording", "btn.rec_resume": "Resume recording",
    "rec.paused": "Recording paused (card details): resume when done.",
    "desk.idle": "No call. Incoming calls pop up here.",
    "today.figures": "My day: {answered} answered · handle time {aht} · occupancy {occupancy}",
    "pop.ringing": "Incoming call", "pop.talking": "On a call with", "pop.ended": "Call ended:",
    "pop.customer": "Customer", "pop.tier": "Tier", "pop.identity": "Identity",
    "pop.ivr": "IVR path", "pop.queue": "Queue", "pop.waited": "Waited", "pop.crm": "CRM",
    "pop.followups": "Open follow-ups", "pop.history": "Last calls",
    "pop.unknown": "Unknown caller", "pop.not_verified": "not verified", "pop.verified": "verified",
    "pop.none": "none", "pop.no_history": "no earlier calls", "pop.history_error": "last calls unavailable",
    "pop.looking_up": "looking up…", "pop.transferred": "Transferred by agent {from}",
    "pop.anonymous": "withheld number",
    "crm.off": "not configured", "crm.ok": "found", "crm.not_found": "not in the CRM",
    "crm.error": "CRM unavailable: pop without CRM data", "crm.pending": "looking up…",
    "tier.standard": "Standard", "tier.gold": "Gold", "tier.platinum": "Platinum",
    "hist.when": "When", "hist.queue": "Queue", "hist.agent": "Agent", "hist.result": "Result",
    "hist.disposition": "Disposition", "hist.notes": "Notes",
    "result.answered": "answered", "result.abandoned": "abandoned", "result.ivr_only": "IVR only",
    "result.lost": "lost", "result.voicemail": "voicemail",
    "result.transferred": "transferred by the IVR",
    "call.timer": "Talk time", "call.transfer_to": "Transfer to",
    "call.queues": "Queues", "call.agents": "Agents", "call.queue_opt": "queue {name}",
    "call.agent_opt": "{id} {name} ({state})",
    "dispo.title": "Disposition", "dispo.code": "Result", "dispo.notes": "Notes",
    "dispo.choose": "— choose —",
    "dispo.saved": "Saved.", "dispo.pending": "Saved: it is written with the call record.",
    "disp.resolved": "Resolved", "disp.follow_up": "Needs follow-up", "disp.escalated": "Escalated",
    "disp.callback": "Call back", "disp.wrong_number": "Wrong number", "disp.other": "Other",
    "queue.general": "General", "queue.billing": "Billing", "queue.technical": "Technical support",
    "queue.account": "Account",
    "note.transferred": "Call transferred.", "note.hung_up": "Call hung up.",
    "note.logged_out": "You are logged out.",
    "err.bad_credentials": "Wrong agent number or password.",
    "err.session_expired": "Your session has expired. Please log in again.",
    "err.unauthenticated": "Please log in.",
    "err.not_your_call": "This is not your call.",
    "err.no_such_call": "The call is no longer in progress.",
    "err.target_unavailable": "That agent is not ready.",
    "err.unknown_target": "Unknown transfer target.",
    "err.pbx_error": "The phone system refused the request.",
    "err.no_recording": "This call has no recording to pause or resume.",
    "err.refused": "Not possible in your current state.",
    "err.unknown_disposition": "Choose a result.", "err.unknown_reason": "Choose a pause reason.",
    "err.network": "Network error: the server cannot be reached.",
    "err.forbidden": "You may not do this.",
    "err.transferred": "You transferred this call: the next agent gives its disposition.",
    "err.too_many_sessions": "Too many sessions open for this user: log out of one first.",
    "err.too_many_sockets": "Too many windows open with this session: close one first.",
  },
  zh: {
    "app.title": "hotline · 坐席工作台",
    "conn.on": "在线", "conn.off": "离线", "conn.retry": "正在重连…",
    "lang.label": "语言",
    "login.title": "登录", "login.username": "坐席工号", "login.password": "密码",
    "login.submit": "登录",
    "state.label": "状态",
    "state.logged_out": "已签出", "state.ready": "就绪", "state.paused": "暂停",
    "state.ringing": "振铃中", "state.talking": "通话中", "state.wrap_up": "话后处理",
    "reason.break": "小休", "reason.lunch": "午餐", "reason.training": "培训",
    "reason.meeting": "会议", "reason.coaching": "辅导", "reason.login": "刚登录",
    "reason.wrap-up": "话后处理",
    "wrapup.left": "话后处理剩余",
    "aria.pause_reason": "暂停原因",
    "btn.ready": "就绪", "btn.pause": "暂停", "btn.logout": "退出登录", "btn.hangup": "挂断",
    "btn.transfer": "转接", "btn.save": "保存处理结果",
    "desk.idle": "当前没有通话。来电将在此弹屏。",
    "today.figures": "今日：接听 {answered} 通 · 平均处理时长 {aht} · 占用率 {occupancy}",
    "pop.ringing": "来电", "pop.talking": "正在通话：", "pop.ended": "通话已结束：",
    "pop.customer": "客户", "pop.tier": "等级", "pop.identity": "身份",
    "pop.ivr": "语音导航路径", "pop.queue": "队列", "pop.waited": "等待时长", "pop.crm": "CRM",
    "pop.followups": "待跟进事项", "pop.history": "最近来电",
    "pop.unknown": "未知来电", "pop.not_verified": "未验证", "pop.verified": "已验证",
    "pop.none": "无", "pop.no_history": "无历史来电", "pop.history_error": "历史来电暂不可用",
    "pop.looking_up": "查询中…", "pop.transferred": "由坐席 {from} 转接",
    "pop.anonymous": "号码未显示",
    "crm.off": "未配置", "crm.ok": "已找到", "crm.not_found": "CRM 中无此客户",
    "crm.error": "CRM 不可用：弹屏不含 CRM 数据", "crm.pending": "查询中…",
    "tier.standard": "普通", "tier.gold": "金卡", "tier.platinum": "白金",
    "hist.when": "时间", "hist.queue": "队列", "hist.agent": "坐席", "hist.result": "结果",
    "hist.disposition": "处理结果", "hist.notes": "备注",
    "result.answered": "已接听", "result.abandoned": "放弃", "result.ivr_only": "仅语音导航",
    "result.lost": "丢失", "result.voicemail": "语音留言", "result.transferred": "语音导航转接",
    "call.timer": "通话时长", "call.transfer_to": "转接至",
    "call.queues": "队列", "call.agents": "坐席", "call.queue_opt": "队列 {name}",
    "call.agent_opt": "{id} {name}（{state}）",
    "dispo.title": "处理结果", "dispo.code": "结果", "dispo.notes": "备注",
    "dispo.choose": "— 请选择 —",
    "dispo.saved": "已保存。", "dispo.pending": "已保存：将随通话记录一并写入。",
    "disp.resolved": "已解决", "disp.follow_up": "需跟进", "disp.escalated": "已升级",
    "disp.callback": "需回电", "disp.wrong_number": "打错电话", "disp.other": "其他",
    "queue.general": "综合", "queue.billing": "账单", "queue.technical": "技术支持",
    "queue.account": "账户",
    "note.transferred": "已转接。", "note.hung_up": "已挂断。",
    "btn.rec_pause": "暂停录音", "btn.rec_resume": "恢复录音",
    "rec.paused": "录音已暂停（银行卡信息）：结束后请恢复。",
    "note.logged_out": "您已退出登录。",
    "err.bad_credentials": "工号或密码错误。",
    "err.session_expired": "会话已过期，请重新登录。",
    "err.unauthenticated": "请先登录。",
    "err.not_your_call": "这不是您的通话。",
    "err.no_such_call": "该通话已结束。",
    "err.target_unavailable": "该坐席未就绪。",
    "err.unknown_target": "转接目标不存在。",
    "err.pbx_error": "电话系统拒绝了该请求。",
    "err.no_recording": "该通话没有可暂停或恢复的录音。",
    "err.refused": "当前状态下无法执行。",
    "err.unknown_disposition": "请选择处理结果。", "err.unknown_reason": "请选择暂停原因。",
    "err.network": "网络错误：无法连接服务器。",
    "err.forbidden": "您无权执行此操作。",
    "err.transferred": "该通话已由您转出，处理结果由接听坐席填写。",
    "err.too_many_sessions": "该用户打开的会话过多，请先退出其中一个。",
    "err.too_many_sockets": "此会话打开的窗口过多，请先关闭一个。",
  },
};

let lang = hotline.initialLanguage();

function t(key, vars) {
  const text = hotline.translate(I18N, lang, key, vars);
  return text === undefined ? undefined : text;
}
// A code from the server (state, reason, disposition, queue, tier): its label, or itself.
const label = (prefix, code) => (code ? t(prefix + "." + code) || code : "");

// ------------------------------------------------------------------ state
const desk = {
  me: null, // {username, name, role}
  config: { pause_reasons: [], disposition_codes: [], queues: [] },
  agent: null,
  agentAt: 0, // Date.now() when desk.agent arrived (since_s counts from there)
  pop: null, // the screen-pop shown
  phase: null, // "ringing" | "talking" | "ended"
  talkStart: 0,
  dispoCall: null, // {call_id, caller_number, name}: the call the form is for
  dispoSaved: false,
  recPausedCall: null, // call id whose recording this agent paused
  recAskedCall: null, // call id whose pause state was asked
  directory: null,
};
let ws = null;
let retry = 500;
let reconnectTimer = null;

const { ApiError } = hotline;

async function api(path, body) {
  try {
    return await hotline.request(path, body);
  } catch (e) {
    // a session that ended while the page was open: back to the login form, saying why
    if (e.status === 401 && path !== "/api/login" && (desk.me || e.code === "session_expired")) showLogin(e);
    throw e;
  }
}

const errorText = (err) => (err && err.code && t("err." + err.code)) || (err && err.message) || String(err);

function notice(text, kind) {
  const el = $("notice");
  el.textContent = text || "";
  el.className = "notice" + (kind ? " " + kind : "");
  el.hidden = !text;
}

// ------------------------------------------------------------------ i18n
function applyLanguage() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  $("lang").value = lang;
  document.title = t("app.title");
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-aria]")) el.setAttribute("aria-label", t(el.dataset.i18nAria));
  fillSelect($("pause-reason"), desk.config.pause_reasons.map((r) => [r, label("reason", r)]));
  const chosen = $("dispo-code").value;
  fillSelect($("dispo-code"), [["", t("dispo.choose")]].concat(
    desk.config.disposition_codes.map((c) => [c, label("disp", c)])));
  $("dispo-code").value = chosen;
  renderTransferTargets();
  renderConn();
  renderAgent();
  renderPop();
  renderDispo();
  renderMyDay();
}

function fillSelect(select, options) {
  const keep = select.value;
  select.replaceChildren(...options.map(([value, text]) => {
    const o = document.createElement("option");
    o.value = value; o.textContent = text;
    return o;
  }));
  if (options.some(([v]) => v === keep)) select.value = keep;
}

$("lang").addEventListener("change", () => {
  lang = $("lang").value;
  localStorage.setItem("hotline.lang", lang);
  applyLanguage();
});

// ------------------------------------------------------------------ rendering
function renderConn() {
  const on = ws && ws.readyState === WebSocket.OPEN;
  $("conn").textContent = on ? t("conn.on") : (reconnectTimer ? t("conn.retry") : t("conn.off"));
  $("conn").className = on ? "on" : "off";
}

const mmss = (s) => {
  s = Math.max(0, Math.floor(s));
  const m = Math.floor(s / 60);
  return String(m).padStart(2, "0") + ":" + String(s % 60).padStart(2, "0");
};

function renderAgent() {
  const a = desk.agent;
  $("who").textContent = desk.me ? desk.me.username + (desk.me.name && desk.me.name !== desk.me.username ? " · " + desk.me.name : "") : "";
  if (!a) return;
  $("state").textContent = label("state", a.state);
  $("state").dataset.state = a.state;
  $("reason").textContent = a.state === "paused" && a.pause_reason ? "(" + label("reason", a.pause_reason) + ")" : "";
  $("btn-ready").disabled = !["paused", "wrap_up"].includes(a.state);
  $("btn-pause").disabled = !["ready", "paused", "wrap_up"].includes(a.state);
  $("btn-logout").disabled = ["ringing", "talking"].includes(a.state);
  tick();
}

function tick() {
  const a = desk.agent;
  if (a) {
    const inState = a.since_s + (Date.now() - desk.agentAt) / 1000;
    $("state-timer").textContent = mmss(inState);
    const wrap = a.state === "wrap_up" && a.wrap_up_left_s !== undefined;
    $("wrapup").hidden = !wrap;
    if (wrap) $("wrapup-left").textContent = Math.ceil(Math.max(0, a.wrap_up_left_s - (Date.now() - desk.agentAt) / 1000)) + " s";
  }
  if (desk.phase === "talking") $("call-timer").textContent = mmss((Date.now() - desk.talkStart) / 1000);
}
setInterval(tick, 250);

// The CRM is the site's: its record may have any shape. Only strings and
// numbers are shown; anything else (null, objects, lists) is skipped.
const crmText = (v) => (typeof v === "string" ? v : (typeof v === "number" && isFinite(v) ? String(v) : ""));
const crmRecord = (p) => {
  const r = p.crm && p.crm.record;
  return r && typeof r === "object" && !Array.isArray(r) ? r : {};
};
function crmFollowUps(record) {
  const raw = record.follow_ups;
  const items = Array.isArray(raw) ? raw : (raw === null || raw === undefined ? [] : [raw]);
  const out = [];
  for (const f of items) {
    let text = crmText(f);
    if (!text && f && typeof f === "object" && !Array.isArray(f)) {
      text = [crmText(f.due), crmText(f.text)].filter(Boolean).join(" · ");
    }
    if (text) out.push(text);
  }
  return out;
}

function customerName(p) {
  if (p.customer && p.customer.name) return p.customer.name;
  const name = crmText(crmRecord(p).name);
  if (name) return name;
  return p.caller_name || t("pop.unknown");
}

function renderPop() {
  const p = desk.pop;
  $("pop").hidden = !p;
  $("idle").hidden = !!p || !!desk.dispoCall;
  if (!p) return;
  // the call's controls first: nothing below (CRM data included) may keep them away
  $("call-controls").hidden = desk.phase !== "talking";
  renderRecording();
  $("pop").dataset.callId = p.call_id;
  $("pop").className = desk.phase || "";
  $("pop-title").textContent = t("pop." + (desk.phase || "ringing"));
  $("pop-number").textContent = p.caller_number || t("pop.anonymous");
  $("pop-name").textContent = customerName(p);
  const crm = crmRecord(p);
  const tier = (p.customer && p.customer.tier) || crmText(crm.tier);
  $("pop-tier").textContent = p.customer_pending ? t("pop.looking_up") : (tier ? label("tier", tier) : "-");
  $("pop-verified").textContent = p.verified ? t("pop.verified") : t("pop.not_verified");
  $("pop-verified").className = p.verified ? "yes" : "no";
  $("pop-ivr").textContent = p.ivr_path || "-";
  $("pop-queue").textContent = p.queue ? label("queue", p.queue) : "-";
  $("pop-wait").textContent = Math.round(p.waited_s || 0) + " s";
  const status = (p.crm && p.crm.status) || "pending";
  let statusText = t("crm." + status) || status;
  if (status === "ok" && crmText(crm.account)) statusText += " · " + crmText(crm.account);
  $("pop-crm").textContent = statusText;
  $("pop-crm").className = status;
  $("pop-crm").title = (p.crm && p.crm.message) || "";
  const tr = p.transfer;
  $("pop-transfer").hidden = !(tr && tr.from && tr.from !== (desk.me && desk.me.username));
  if (tr) $("pop-transfer").textContent = t("pop.transferred", { from: tr.from });

  const followups = [];
  if (p.customer && p.customer.notes) followups.push(p.customer.notes);
  followups.push(...crmFollowUps(crm));
  const ul = $("pop-followups");
  ul.replaceChildren(...(followups.length ? followups : [t("pop.none")]).map((text) => {
    const li = document.createElement("li"); li.textContent = text; return li;
  }));

  const body = $("pop-history").tBodies[0];
  const rows = p.history;
  if (rows === null || rows === undefined || rows.length === 0) {
    const tr = document.createElement("tr");
    const td = document.createElement("td");
    td.colSpan = 6;
    td.className = "muted";
    td.textContent = p.context_pending ? t("pop.looking_up") : (rows === null ? t("pop.history_error") : t("pop.no_history"));
    tr.append(td);
    body.replaceChildren(tr);
  } else {
    body.replaceChildren(...rows.map((h) => {
      const tr = document.createElement("tr");
      const when = h.at ? new Date(h.at * 1000).toLocaleString(lang === "zh" ? "zh-CN" : "en-GB") : "";
      for (const text of [when, label("queue", h.queue), h.agent_id || "", label("result", h.result),
        label("disp", h.disposition), h.notes || ""]) {
        const td = document.createElement("td"); td.textContent = text; tr.append(td);
      }
      return tr;
    }));
  }
}

function renderTransferTargets() {
  const options = (desk.config.queues || []).map((q) => ["queue:" + q, t("call.queue_opt", { name: label("queue", q) })]);
  for (const a of (desk.directory && desk.directory.agents) || []) {
    if (desk.me && a.agent_id === desk.me.username) continue;
    options.push(["agent:" + a.agent_id, t("call.agent_opt", { id: a.agent_id, name: a.name, state: label("state", a.state) })]);
  }
  fillSelect($("transfer-target"), options);
}

function renderDispo() {
  const d = desk.dispoCall;
  $("dispo").hidden = !d;
  if (!d) return;
  $("dispo-call").textContent = [d.caller_number, d.name].filter(Boolean).join(" · ");
}

// ------------------------------------------------------------------ events
function onAgent(agent) {
  if (!agent) return;
  desk.agent = agent;
  desk.agentAt = Date.now();
  const p = desk.pop;
  if (p) {
    if (agent.call_id === p.call_id && agent.state === "ringing") desk.phase = "ringing";
    else if (agent.call_id === p.call_id && agent.state === "talking") {
      if (desk.phase !== "talking") {
        desk.phase = "talking";
        desk.talkStart = Date.now() - agent.since_s * 1000;
        bindDispo(p);
        loadDirectory();
      }
    } else if (agent.call_id !== p.call_id) {
      if (desk.phase === "talking") desk.phase = "ended"; // my call is over: disposition
      else if (desk.phase === "ringing") { desk.pop = null; desk.phase = null; } // not taken
    }
  }
  renderAgent();
  renderPop();
  renderDispo();
}

function onPop(data, agent) {
  if (desk.pop && desk.pop.call_id === data.call_id) {
    desk.pop = data; // an update (customer or CRM data arrived)
  } else {
    desk.pop = data;
    desk.phase = "ringing";
    const a = agent || desk.agent;
    if (a && a.call_id === data.call_id && a.state === "talking") {
      desk.phase = "talking";
      desk.talkStart = Date.now() - (a.since_s || 0) * 1000;
      bindDispo(data);
    }
  }
  renderPop();
  renderDispo();
}

function onCallEnded(data) {
  const p = desk.pop;
  if (!p || p.call_id !== data.call_id) return;
  if (desk.phase === "talking" && data.agent_id === desk.me.username && data.answered) desk.phase = "ended";
  else if (desk.phase !== "talking" && desk.phase !== "ended") { desk.pop = null; desk.phase = null; }
  renderPop();
}

function bindDispo(call) {
  if (desk.dispoCall && desk.dispoCall.call_id === call.call_id) return;
  if (desk.dispoCall && !desk.dispoSaved) return; // the last call still needs its disposition
  desk.dispoCall = { call_id: call.call_id, caller_number: call.caller_number, name: call.customer ? call.customer.name : call.caller_name };
  desk.dispoSaved = false;
  $("dispo-code").value = "";
  $("dispo-notes").value = "";
  $("dispo-status").textContent = "";
  $("dispo-status").className = "";
}

function onHello(data) {
  desk.config = data.config || desk.config;
  desk.me = desk.me || { username: data.username, role: data.role };
  if (data.wrap_call && (!desk.dispoCall || desk.dispoCall.call_id !== data.wrap_call.call_id)) {
    desk.dispoCall = { call_id: data.wrap_call.call_id, caller_number: data.wrap_call.caller_number, name: data.wrap_call.caller_name };
    desk.dispoSaved = false;
  }
  if (data.call) onPop(data.call, data.agent);
  else if (desk.pop && desk.phase === "talking") desk.phase = "ended"; // it ended during the drop
  else if (desk.pop && desk.phase !== "ended") { desk.pop = null; desk.phase = null; }
  applyLanguage();
  onAgent(data.agent);
}

function handle(msg) {
  if (msg.v !== PROTOCOL) return;
  const d = msg.data || {};
  switch (msg.type) {
    case "hello": onHello(d); break;
    case "agent.state": if (desk.me && d.agent_id === desk.me.username) onAgent(d); break;
    case "screen.pop": onPop(d); break;
    case "call.ended": onCallEnded(d); loadMyDay(); break;
    case "error":
      if (d.error === "session_expired") showLogin({ code: "session_expired" });
      else notice(errorText({ code: d.error, message: d.message }));
      break;
    default: break;
  }
}

// ------------------------------------------------------------------ WebSocket
function connect() {
  clearTimeout(reconnectTimer);
  reconnectTimer = null;
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(proto + "//" + location.host + "/ws");
  ws = socket;
  socket.onopen = () => { retry = 500; renderConn(); };
  socket.onmessage = (ev) => { try { handle(JSON.parse(ev.data)); } catch (err) { console.error(err); } };
  socket.onclose = (ev) => {
    if (ws !== socket) return;
    ws = null;
    if (ev.code === 4401) { showLogin({ code: "session_expired" }); return; }
    if (ev.code === 4403 || !desk.me) { renderConn(); return; }
    // A network drop or a server restart: check the session, then reconnect;
    // the server's hello on connect resyncs the whole page.
    reconnectTimer = setTimeout(() => {
      api("/api/me").then(() => connect()).catch((err) => {
        if (err.status !== 401) { reconnectTimer = null; scheduleRetry(); }
      });
    }, retry);
    retry = Math.min(retry * 2, 10000);
    renderConn();
  };
  renderConn();
}

function scheduleRetry() {
  reconnectTimer = setTimeout(connect, retry);
  retry = Math.min(retry * 2, 10000);
  renderConn();
}

function disconnect() {
  clearTimeout(reconnectTimer);
  reconnectTimer = null;
  const socket = ws;
  ws = null;
  if (socket) socket.close(1000);
}

// ------------------------------------------------------------------ my day
// The agent's own figures of today (GET /api/wallboard/me), after each call.
let myDay = null;
async function loadMyDay() {
  if (!desk.me) return;
  try { myDay = await api("/api/wallboard/me"); } catch (err) { myDay = null; }
  renderMyDay();
}
function renderMyDay() {
  const el = $("my-today");
  el.hidden = !myDay;
  if (!myDay) return;
  const c = myDay.calls, occ = myDay.time.occupancy;
  el.textContent = t("today.figures", {
    answered: c.answered,
    aht: c.aht_s === null ? "-" : Math.round(c.aht_s) + " s",
    occupancy: occ === null ? "-" : Math.round(occ * 100) + "%",
  });
}
setInterval(loadMyDay, 60000);

// ------------------------------------------------------------------ views
function enterDesk(data) {
  if (data.role !== "agent") {
    $("login-error").textContent = errorText({ code: "forbidden" });
    return;
  }
  desk.me = { username: data.username, name: data.name, role: data.role };
  desk.config = data.config || desk.config;
  $("login-view").hidden = true;
  $("desk-view").hidden = false;
  $("login-error").textContent = "";
  notice("");
  applyLanguage();
  onAgent(data.agent);
  connect();
  loadMyDay();
}

function showLogin(err) {
  disconnect();
  desk.me = null; desk.agent = null; desk.pop = null; desk.phase = null; desk.dispoCall = null;
  $("desk-view").hidden = true;
  $("login-view").hidden = false;
  $("login-error").textContent = err ? errorText(err) : "";
  renderConn();
}

async function loadDirectory() {
  try { desk.directory = await api("/api/directory"); } catch (err) { desk.directory = null; }
  renderTransferTargets();
}

async function act(fn) {
  try { notice(""); return await fn(); } catch (err) { notice(errorText(err)); return undefined; }
}

$("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("login-error").textContent = "";
  try {
    enterDesk(await api("/api/login", { username: $("username").value.trim(), password: $("password").value }));
    $("password").value = "";
  } catch (err) { $("login-error").textContent = errorText(err); }
});
$("btn-ready").onclick = () => act(async () => onAgent((await api("/api/agent/state", { state: "ready" })).agent));
$("btn-pause").onclick = () => act(async () => onAgent((await api("/api/agent/state", { state: "paused", reason: $("pause-reason").value })).agent));
$("btn-logout").onclick = () => act(async () => {
  await api("/api/logout", {});
  showLogin();
  notice(t("note.logged_out"), "info");
});
$("btn-hangup").onclick = () => act(async () => {
  if (!desk.pop) return;
  await api("/api/calls/" + encodeURIComponent(desk.pop.call_id) + "/hangup", {});
  notice(t("note.hung_up"), "info");
});
// Recording pause (PCI: card details): the paused span is silence in the recording.
function renderRecording() {
  const callId = desk.pop && desk.phase === "talking" ? desk.pop.call_id : null;
  if (desk.recPausedCall && desk.recPausedCall !== callId) desk.recPausedCall = null;
  if (callId && desk.recAskedCall !== callId) {
    // a call taken over after a reload may be paused already: ask once
    desk.recAskedCall = callId;
    api("/api/calls/" + encodeURIComponent(callId) + "/recording").then((res) => {
      if (res.paused) desk.recPausedCall = callId;
      renderRecording();
    }).catch(() => {});
  }
  const paused = callId !== null && desk.recPausedCall === callId;
  $("btn-recording").textContent = t(paused ? "btn.rec_resume" : "btn.rec_pause");
  $("btn-recording").dataset.paused = paused ? "1" : "0";
  $("rec-status").textContent = paused ? t("rec.paused") : "";
}
$("btn-recording").onclick = () => act(async () => {
  if (!desk.pop) return;
  const callId = desk.pop.call_id;
  const paused = desk.recPausedCall !== callId;
  const res = await api("/api/calls/" + encodeURIComponent(callId) + "/recording", { paused });
  desk.recPausedCall = res.paused ? callId : null;
  renderRecording();
});
$("btn-transfer").onclick = () => act(async () => {
  if (!desk.pop) return;
  const [kind, target] = $("transfer-target").value.split(/:(.*)/s);
  const callId = desk.pop.call_id;
  await api("/api/calls/" + encodeURIComponent(callId) + "/transfer", { [kind]: target });
  // the call is the next agent's now, disposition included
  if (desk.pop && desk.pop.call_id === callId) { desk.pop = null; desk.phase = null; }
  if (desk.dispoCall && desk.dispoCall.call_id === callId) desk.dispoCall = null;
  renderPop();
  renderDispo();
  notice(t("note.transferred"), "info");
});
$("dispo").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const d = desk.dispoCall;
  if (!d) return;
  act(async () => {
    const res = await api("/api/calls/" + encodeURIComponent(d.call_id) + "/disposition", {
      disposition: $("dispo-code").value, notes: $("dispo-notes").value,
    });
    desk.dispoSaved = true;
    $("dispo-status").textContent = res.stored === "pending" ? t("dispo.pending") : t("dispo.saved");
    $("dispo-status").className = "saved";
    $("dispo-status").dataset.callId = d.call_id;
    // a call taken meanwhile gets the form next
    if (desk.phase === "talking" && desk.pop && desk.pop.call_id !== d.call_id) bindDispo(desk.pop);
    renderDispo();
  }).then(() => {
    if (!desk.dispoSaved) { $("dispo-status").textContent = ""; $("dispo-status").className = "failed"; }
  });
});

applyLanguage();
api("/api/me").then(enterDesk).catch(() => {});
