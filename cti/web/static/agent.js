"use strict";
// Agent desktop: login, state control, screen-pop over the WebSocket (protocol v1).
const $ = (id) => document.getElementById(id);
let ws = null;
let retry = 500;

async function api(path, body) {
  const res = await fetch(path, {
    method: body === undefined ? "GET" : "POST",
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data.message || res.statusText);
  return data;
}

function showAgent(agent) {
  if (!agent) return;
  $("state").textContent = agent.state;
  $("reason").textContent = agent.pause_reason ? "(" + agent.pause_reason + ")" : "";
}

function showPop(call) {
  $("pop").hidden = false;
  $("pop-number").textContent = call.caller_number;
  const c = call.customer;
  $("pop-name").textContent = c ? c.name : (call.caller_name || "unknown caller");
  $("pop-tier").textContent = c ? c.tier : "-";
  $("pop-notes").textContent = c && c.notes ? c.notes : "-";
  $("pop-ivr").textContent = call.ivr_path || "-";
  $("pop-queue").textContent = call.queue || "-";
  $("pop-wait").textContent = Math.round(call.waited_s) + " s";
}

function connect() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  ws = new WebSocket(proto + "//" + location.host + "/ws");
  ws.onopen = () => { retry = 500; $("conn").textContent = "online"; $("conn").className = "on"; };
  ws.onclose = () => {
    $("conn").textContent = "offline"; $("conn").className = "off";
    setTimeout(connect, retry); retry = Math.min(retry * 2, 10000);
  };
  ws.onmessage = (ev) => {
    const msg = JSON.parse(ev.data);
    if (msg.type === "hello") { showAgent(msg.data.agent); if (msg.data.call) showPop(msg.data.call); }
    else if (msg.type === "agent.state") showAgent(msg.data);
    else if (msg.type === "screen.pop") showPop(msg.data);
  };
}

function enterDesk(data) {
  $("login-view").hidden = true;
  $("desk-view").hidden = false;
  $("who").textContent = data.username;
  showAgent(data.agent);
  connect();
}

$("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = new FormData(ev.target);
  try {
    enterDesk(await api("/api/login", { username: form.get("username"), password: form.get("password") }));
  } catch (err) { $("login-error").textContent = err.message; }
});
$("btn-ready").onclick = () => api("/api/agent/state", { state: "ready" }).then((d) => showAgent(d.agent));
$("btn-pause").onclick = () => api("/api/agent/state", { state: "paused", reason: $("pause-reason").value }).then((d) => showAgent(d.agent));
$("btn-logout").onclick = () => api("/api/agent/state", { state: "logged_out" }).then((d) => showAgent(d.agent));
api("/api/me").then(enterDesk).catch(() => {});
