"use strict";
// Staffing page: agents needed per interval (Erlang C / A) beside the agents
// logged in now, and listen / whisper / barge on live calls. Plain JS, no
// build step; every UI string is in I18N, in English and Chinese.

const I18N = {
  en: {
    "app.title": "Staffing",
    "lang.label": "Language",
    "login.title": "Supervisor log in",
    "login.username": "User",
    "login.password": "Password",
    "login.submit": "Log in",
    "live.title": "Live calls",
    "live.help": "Your phone rings; answer it to join the call.",
    "live.agent": "Agent",
    "live.queue": "Queue",
    "live.talking": "Talking",
    "live.actions": "Monitor",
    "live.none": "No agent is on a call.",
    "mode.listen": "Listen",
    "mode.whisper": "Whisper",
    "mode.barge": "Barge",
    "mode.sent": "Your phone is ringing: {mode} on agent {agent}.",
    "plan.title": "Agents needed",
    "plan.date": "Day",
    "plan.weeks": "Weeks of history",
    "plan.interval": "Interval",
    "plan.weighting": "Weeks weighted",
    "plan.equal": "equally",
    "plan.recent": "recent first",
    "plan.show": "Show",
    "plan.source": "Forecast from {days} ({weighting}).",
    "plan.no_history": "No stored calls on those days: nothing to forecast.",
    "plan.queue": "Queue {queue}: {target} within {within} s; patience {patience}; logged in now {now} (ready {ready})",
    "plan.patience_none": "not measured (Erlang C only)",
    "col.interval": "Interval",
    "col.calls": "Calls",
    "col.aht": "AHT (s)",
    "col.erlangs": "Erlangs",
    "col.agents_c": "Agents (Erlang C)",
    "col.sl_c": "SL (C)",
    "col.agents_a": "Agents (Erlang A)",
    "col.sl_a": "SL (A)",
    "col.abandon_a": "Abandons (A)",
    "err.bad_credentials": "Wrong user or password.",
    "err.forbidden": "This page is for supervisors.",
    "err.session_expired": "Your session has expired: log in again.",
    "err.unauthenticated": "Log in first.",
    "err.no_phone": "You have no phone to listen on: ask an admin.",
    "err.agent_not_talking": "That agent is not on a call any more.",
    "err.no_agent_channel": "The agent's call was not found on the PBX.",
    "err.pbx_error": "The PBX refused the call.",
    "err.other": "Error: {message}",
  },
  zh: {
    "app.title": "排班",
    "lang.label": "语言",
    "login.title": "主管登录",
    "login.username": "用户",
    "login.password": "密码",
    "login.submit": "登录",
    "live.title": "通话中",
    "live.help": "您的话机会响铃，接听即加入通话。",
    "live.agent": "坐席",
    "live.queue": "队列",
    "live.talking": "通话时长",
    "live.actions": "监控",
    "live.none": "目前没有坐席在通话。",
    "mode.listen": "监听",
    "mode.whisper": "耳语",
    "mode.barge": "强插",
    "mode.sent": "您的话机正在响铃：{mode} 坐席 {agent}。",
    "plan.title": "所需坐席",
    "plan.date": "日期",
    "plan.weeks": "历史周数",
    "plan.interval": "时段",
    "plan.weighting": "各周权重",
    "plan.equal": "相同",
    "plan.recent": "近期优先",
    "plan.show": "显示",
    "plan.source": "预测依据：{days}（{weighting}）。",
    "plan.no_history": "这些日期没有通话记录，无法预测。",
    "plan.queue": "队列 {queue}：{within} 秒内接通 {target}；耐心 {patience}；当前登录 {now}（就绪 {ready}）",
    "plan.patience_none": "未测得（仅用 Erlang C）",
    "col.interval": "时段",
    "col.calls": "来电",
    "col.aht": "平均处理时长（秒）",
    "col.erlangs": "话务量（爱尔兰）",
    "col.agents_c": "坐席数（Erlang C）",
    "col.sl_c": "服务水平（C）",
    "col.agents_a": "坐席数（Erlang A）",
    "col.sl_a": "服务水平（A）",
    "col.abandon_a": "放弃率（A）",
    "err.bad_credentials": "用户或密码错误。",
    "err.forbidden": "此页面仅供主管使用。",
    "err.session_expired": "会话已过期，请重新登录。",
    "err.unauthenticated": "请先登录。",
    "err.no_phone": "您没有可用于监听的话机，请联系管理员。",
    "err.agent_not_talking": "该坐席已不在通话中。",
    "err.no_agent_channel": "在交换机上找不到该坐席的通话。",
    "err.pbx_error": "交换机拒绝了该呼叫。",
    "err.other": "错误：{message}",
  },
};

const $ = (id) => document.getElementById(id);
let lang = hotline.initialLanguage();
let lastPlan = null;
let lastNotice = null; // a function making the notice's text: redone on a language switch
let liveTimer = null;

function t(key, values) {
  return hotline.translate(I18N, lang, key, values) ?? key;
}

function applyLanguage() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  $("lang").value = lang;
  for (const el of document.querySelectorAll("[data-i18n]")) {
    el.textContent = t(el.dataset.i18n);
  }
  if (lastPlan) renderPlan(lastPlan);
  if (lastNotice) notice(lastNotice);
}

function notice(make) {
  lastNotice = make;
  const text = make();
  $("notice").textContent = text;
  $("notice").hidden = !text;
}

function errorText(body) {
  const key = `err.${body.error}`;
  return I18N.en[key] ? t(key) : t("err.other", { message: body.message || body.error });
}

async function api(method, path, body) {
  const init = { method, headers: {}, credentials: "same-origin" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const data = await response.json().catch(() => ({ error: "other", message: response.statusText }));
  if (!response.ok) {
    if (response.status === 401) showLogin();
    throw data;
  }
  return data;
}

function showLogin() {
  $("login-view").hidden = false;
  $("main-view").hidden = true;
  if (liveTimer) clearInterval(liveTimer);
  liveTimer = null;
}

async function showMain(me) {
  if (me.role !== "supervisor" && me.role !== "admin") {
    showLogin();
    $("login-error").textContent = t("err.forbidden");
    return;
  }
  $("who").textContent = `${me.name} (${me.username})`;
  $("login-view").hidden = true;
  $("main-view").hidden = false;
  const tomorrow = new Date(Date.now() + 86400000);
  if (!$("day").value) $("day").value = tomorrow.toISOString().slice(0, 10);
  await Promise.all([loadLive(), loadPlan()]);
  liveTimer = setInterval(loadLive, 2000);
}

async function loadLive() {
  let data;
  try {
    data = await api("GET", "/api/supervisor/live");
  } catch (err) {
    notice(() => errorText(err));
    return;
  }
  const body = $("live").querySelector("tbody");
  body.replaceChildren();
  for (const call of data.calls) {
    const row = document.createElement("tr");
    row.dataset.agent = call.agent;
    for (const text of [`${call.name} (${call.agent})`, call.queue || "-", `${call.talking_s} s`]) {
      const cell = document.createElement("td");
      cell.textContent = text;
      row.append(cell);
    }
    const actions = document.createElement("td");
    for (const mode of ["listen", "whisper", "barge"]) {
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.mode = mode;
      button.textContent = t(`mode.${mode}`);
      button.addEventListener("click", () => startMonitor(call.agent, mode));
      actions.append(button);
    }
    row.append(actions);
    body.append(row);
  }
  $("live-empty").hidden = data.calls.length > 0;
}

async function startMonitor(agent, mode) {
  try {
    await api("POST", "/api/supervisor/monitor", { agent, mode });
    notice(() => t("mode.sent", { mode: t(`mode.${mode}`), agent }));
  } catch (err) {
    notice(() => errorText(err));
  }
}

async function loadPlan() {
  const query = new URLSearchParams({
    date: $("day").value,
    weeks: $("weeks").value,
    interval: $("interval").value,
    weighting: $("weighting").value,
  });
  try {
    lastPlan = await api("GET", `/api/staffing?${query}`);
    renderPlan(lastPlan);
  } catch (err) {
    notice(() => errorText(err));
  }
}

function percent(value) {
  return value === null || value === undefined ? "-" : `${(value * 100).toFixed(1)} %`;
}

function renderPlan(plan) {
  $("plan-source").textContent = plan.history_days.length
    ? t("plan.source", {
      days: plan.history_days.join(", "),
      weighting: t(`plan.${plan.weighting}`),
    })
    : t("plan.no_history");
  const holder = $("queues");
  holder.replaceChildren();
  const columns = ["interval", "calls", "aht", "erlangs", "agents_c", "sl_c", "agents_a", "sl_a", "abandon_a"];
  for (const queue of plan.queues) {
    const title = document.createElement("h3");
    title.textContent = t("plan.queue", {
      queue: queue.queue,
      target: percent(queue.target),
      within: queue.within_s,
      patience: queue.patience_s === null ? t("plan.patience_none") : `${queue.patience_s} s`,
      now: queue.staff_now.logged_in,
      ready: queue.staff_now.ready,
    });
    const table = document.createElement("table");
    table.dataset.queue = queue.queue;
    const head = document.createElement("tr");
    for (const col of columns) {
      const th = document.createElement("th");
      th.textContent = t(`col.${col}`);
      head.append(th);
    }
    table.append(head);
    for (const i of queue.intervals) {
      if (i.calls <= 0) continue;
      const row = document.createElement("tr");
      const needed = i.agents_a === null ? i.agents_c : i.agents_a;
      if (queue.staff_now.logged_in < needed) row.className = "short";
      const values = [i.start, i.calls.toFixed(1), i.handle_s.toFixed(0), i.erlangs.toFixed(2),
        i.agents_c, percent(i.sl_c), i.agents_a === null ? "-" : i.agents_a, percent(i.sl_a),
        percent(i.abandon_a)];
      for (const value of values) {
        const cell = document.createElement("td");
        cell.textContent = String(value);
        row.append(cell);
      }
      table.append(row);
    }
    holder.append(title, table);
  }
}

$("lang").addEventListener("change", () => {
  lang = $("lang").value;
  localStorage.setItem("hotline.lang", lang);
  applyLanguage();
});

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("login-error").textContent = "";
  try {
    const me = await api("POST", "/api/login", {
      username: $("username").value,
      password: $("password").value,
      roles: ["supervisor", "admin"], // an agent is refused before joining its queues
    });
    await showMain(me);
  } catch (err) {
    $("login-error").textContent = errorText(err);
  }
});

$("plan-form").addEventListener("submit", (event) => {
  event.preventDefault();
  loadPlan();
});

applyLanguage();
api("GET", "/api/me").then(showMain).catch(() => showLogin());
