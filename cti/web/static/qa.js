"use strict";
// QA page: search calls, open one (CDR, IVR path, tags, transcript), play its
// recording (the transcript follows the audio; a click on a turn, a word or a
// tag seeks there), score it against the scorecard, mark it for training, put
// it on hold; the week's spot-check sample is a filter of the search.
// Plain JS, no build step. Every UI string is in I18N, in English and Chinese.

const $ = (id) => document.getElementById(id);
const ROLES = ["qa", "supervisor", "admin"];

const I18N = {
  en: {
    "app.title": "hotline · QA", "lang.label": "Language", "btn.logout": "Log out",
    "login.title": "Log in", "login.username": "User name", "login.password": "Password",
    "login.submit": "Log in",
    "search.title": "Search calls", "f.since": "From", "f.until": "To", "f.agent": "Agent",
    "f.queue": "Queue", "f.tag": "Tag", "f.caller": "Caller number", "f.text": "Words said",
    "f.recording": "Recording", "f.training": "Training", "any": "Any", "yes": "Yes", "no": "No",
    "btn.search": "Search", "f.disposition": "Result", "f.survey": "Survey",
    "f.sample": "Spot-check sample", "f.week": "Week",
    "sample.info": "Spot-check sample of week {week}: {percent} % of each agent's calls, at least one ({n} calls).",
    "r.hold": "Hold", "r.held": "held", "h.put": "Put on hold (keep from deletion)", "h.remove": "Remove hold",
    "h.on": "On hold: kept from deletion.", "h.off": "Not on hold.",
    "r.when": "When", "r.caller": "Caller", "r.queue": "Queue", "r.agent": "Agent",
    "r.agent_avg": "Agent average", "r.talk": "Talk", "r.result": "Result", "r.score": "Score",
    "r.recording": "Recording", "r.training": "Training", "r.none": "No calls match.",
    "r.scored_calls": "{n} scored",
    "d.title": "Call", "d.ivr": "IVR path", "d.audio": "Recording", "d.party": "Listen to",
    "d.noaudio": "No recording.", "d.tags": "Tags", "d.notags": "No tags.",
    "d.transcript": "Transcript", "d.notranscript": "No transcript yet.",
    "d.paused": "Recording paused by agent {agent}: {from} – {to}",
    "d.paused_turn": "Recording paused (card details)",
    "party.mixed": "Both parties", "party.caller": "Caller", "party.agent": "Agent",
    "party.voicemail": "Voicemail",
    "cdr.caller": "Caller", "cdr.queue": "Queue", "cdr.agent": "Agent", "cdr.entered": "Arrived",
    "cdr.answered": "Answered", "cdr.wait": "Waited", "cdr.talk": "Talk time",
    "cdr.disposition": "Result", "cdr.agent_disposition": "Agent's disposition",
    "cdr.notes": "Agent's notes", "cdr.verified": "Identity verified", "cdr.survey": "Survey",
    "cdr.nps": "NPS (0-10)",
    "cdr.callback": "Call-back",
    "s.title": "Score this call", "s.comments": "Comments", "btn.score": "Save score",
    "s.saved": "Score saved: {total}", "s.history": "Scores", "s.when": "When", "s.by": "By",
    "s.total": "Total", "s.critical": "critical: fails the call", "s.critical_failed": "critical item failed",
    "ans.pass": "Pass", "ans.fail": "Fail", "ans.na": "N/A",
    "t.mark": "Training material", "t.note": "Note", "btn.training": "Save", "t.saved": "Saved.",
    "err.forbidden": "You may not use the QA page.", "err.network": "Network error: the server cannot be reached.",
    "err.bad_credentials": "Wrong user name or password.",
  },
  zh: {
    "app.title": "hotline · 质检", "lang.label": "语言", "btn.logout": "退出登录",
    "login.title": "登录", "login.username": "用户名", "login.password": "密码",
    "login.submit": "登录",
    "search.title": "搜索通话", "f.since": "开始日期", "f.until": "结束日期", "f.agent": "坐席",
    "f.queue": "队列", "f.tag": "标签", "f.caller": "来电号码", "f.text": "通话内容",
    "f.recording": "录音", "f.training": "培训", "any": "全部", "yes": "有", "no": "无",
    "btn.search": "搜索", "f.disposition": "结果", "f.survey": "满意度",
    "f.sample": "抽检样本", "f.week": "周",
    "sample.info": "第 {week} 周抽检样本：每位坐席通话的 {percent}%，至少一通（共 {n} 通）。",
    "r.hold": "保留", "r.held": "已保留", "h.put": "保留（不随保存期删除）", "h.remove": "取消保留",
    "h.on": "已保留：不会被删除。", "h.off": "未保留。",
    "r.when": "时间", "r.caller": "来电", "r.queue": "队列", "r.agent": "坐席",
    "r.agent_avg": "坐席平均分", "r.talk": "通话时长", "r.result": "结果", "r.score": "评分",
    "r.recording": "录音", "r.training": "培训", "r.none": "没有符合条件的通话。",
    "r.scored_calls": "已评 {n} 通",
    "d.title": "通话", "d.ivr": "IVR 路径", "d.audio": "录音", "d.party": "收听",
    "d.noaudio": "没有录音。", "d.tags": "标签", "d.notags": "没有标签。",
    "d.transcript": "转写文本", "d.notranscript": "尚无转写文本。",
    "d.paused": "坐席 {agent} 暂停了录音：{from} – {to}",
    "d.paused_turn": "录音已暂停（银行卡信息）",
    "party.mixed": "双方", "party.caller": "客户", "party.agent": "坐席", "party.voicemail": "留言",
    "cdr.caller": "来电", "cdr.queue": "队列", "cdr.agent": "坐席", "cdr.entered": "来电时间",
    "cdr.answered": "接听时间", "cdr.wait": "等待", "cdr.talk": "通话时长",
    "cdr.disposition": "结果", "cdr.agent_disposition": "坐席小结", "cdr.notes": "坐席备注",
    "cdr.verified": "身份已验证", "cdr.survey": "满意度", "cdr.nps": "推荐意愿（0-10）", "cdr.callback": "回拨",
    "s.title": "为本通话评分", "s.comments": "评语", "btn.score": "保存评分",
    "s.saved": "评分已保存：{total}", "s.history": "评分记录", "s.when": "时间", "s.by": "评分人",
    "s.total": "总分", "s.critical": "关键项：不合格则整通不合格", "s.critical_failed": "关键项不合格",
    "ans.pass": "合格", "ans.fail": "不合格", "ans.na": "不适用",
    "t.mark": "培训素材", "t.note": "备注", "btn.training": "保存", "t.saved": "已保存。",
    "err.forbidden": "您无权使用质检页面。", "err.network": "网络错误：无法连接服务器。",
    "err.bad_credentials": "用户名或密码错误。",
  },
};

let lang = hotline.initialLanguage();

function t(key, vars) {
  const text = hotline.translate(I18N, lang, key, vars);
  return text === undefined ? key : text;
}

const qa = { me: null, card: null, calls: [], sample: null, detail: null, turnEls: [], wordEls: [] };

const { ApiError } = hotline;

async function api(path, body) {
  try {
    return await hotline.request(path, body);
  } catch (e) {
    if (e.status === 401 && path !== "/api/login") showLogin();
    throw e;
  }
}

const errorText = (err) => {
  const key = err && err.code ? "err." + err.code : "";
  return (key && I18N.en[key] ? t(key) : "") || (err && err.message) || String(err);
};

function notice(text, kind) {
  $("notice").textContent = text || "";
  $("notice").className = "notice" + (kind ? " " + kind : "");
  $("notice").hidden = !text;
}

async function act(fn) {
  try { notice(""); return await fn(); } catch (err) { notice(errorText(err)); return undefined; }
}

const el = (tag, props, ...children) => {
  const node = document.createElement(tag);
  Object.assign(node, props || {});
  for (const c of children) node.append(c);
  return node;
};
const clock = (s) => {
  s = Math.max(0, Number(s) || 0);
  const m = Math.floor(s / 60);
  return m + ":" + String(Math.floor(s % 60)).padStart(2, "0");
};
const when = (iso) => (iso ? new Date(iso).toLocaleString(lang === "zh" ? "zh-CN" : "en-GB") : "");

// ------------------------------------------------------------------ language
function applyLanguage() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  $("lang").value = lang;
  document.title = t("app.title");
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  // results of the last action, in the new language
  if ($("s-status").dataset.total) $("s-status").textContent = t("s.saved", { total: $("s-status").dataset.total });
  if ($("t-status").textContent) $("t-status").textContent = t("t.saved");
  renderResults();
  if (qa.detail) renderDetail(false);
}
$("lang").addEventListener("change", () => {
  lang = $("lang").value;
  localStorage.setItem("hotline.lang", lang);
  applyLanguage();
});

// ------------------------------------------------------------------ login
function showLogin(err) {
  qa.me = null;
  $("qa-view").hidden = true;
  $("btn-logout").hidden = true;
  $("login-view").hidden = false;
  $("who").textContent = "";
  $("login-error").textContent = err ? errorText(err) : "";
}

async function enter(me) {
  if (!ROLES.includes(me.role)) { showLogin(new ApiError(403, "forbidden", "")); return; }
  qa.me = me;
  $("who").textContent = me.username + (me.name && me.name !== me.username ? " · " + me.name : "");
  $("login-view").hidden = true;
  $("qa-view").hidden = false;
  $("btn-logout").hidden = false;
  qa.card = await api("/api/qa/scorecard");
  applyLanguage();
  await search();
}

$("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("login-error").textContent = "";
  try {
    const me = await api("/api/login", { username: $("username").value.trim(), password: $("password").value });
    $("password").value = "";
    await enter(me);
  } catch (err) { $("login-error").textContent = errorText(err); }
});
$("btn-logout").onclick = () => act(async () => { await api("/api/logout", {}); showLogin(); });

// ------------------------------------------------------------------ search
async function search() {
  const params = new URLSearchParams();
  const fields = { since: "f-since", until: "f-until", agent: "f-agent", queue: "f-queue", tag: "f-tag",
    caller: "f-caller", text: "f-text", has_recording: "f-recording", training: "f-training",
    disposition: "f-disposition", survey_min: "f-survey-min", survey_max: "f-survey-max", week: "f-week" };
  for (const [name, id] of Object.entries(fields)) {
    const value = $(id).value.trim();
    if (value) params.set(name, value);
  }
  qa.sample = null;
  if ($("f-sample").checked) {
    params.set("sample", "true");
    qa.sample = await api("/api/qa/sample" + (params.get("week") ? "?week=" + encodeURIComponent(params.get("week")) : ""));
    if (!$("f-week").value) $("f-week").value = qa.sample.week;
  }
  const data = await api("/api/qa/calls?" + params.toString());
  qa.calls = data.calls;
  renderResults();
}
$("search").addEventListener("submit", (ev) => { ev.preventDefault(); act(search); });

function renderResults() {
  const body = $("results").tBodies[0];
  body.replaceChildren(...qa.calls.map((c) => {
    const avg = c.agent_avg_score === null ? "" : c.agent_avg_score + " (" + t("r.scored_calls", { n: c.agent_scored_calls }) + ")";
    const row = el("tr", {},
      el("td", { textContent: when(c.entered_at) }),
      el("td", { textContent: c.caller_number + (c.caller_name ? " " + c.caller_name : ""), className: "mono" }),
      el("td", { textContent: c.queue || "" }),
      el("td", { textContent: c.agent_id || "" }),
      el("td", { textContent: avg, className: "agent-avg" }),
      el("td", { textContent: clock(c.talk_s) }),
      el("td", { textContent: c.disposition }),
      el("td", { textContent: c.score === null ? "" : String(c.score), className: "score" }),
      el("td", { textContent: c.has_recording ? "♪" : "" }),
      el("td", { textContent: c.training ? "★" : "" }),
      el("td", { textContent: c.hold ? t("r.held") : "", className: "hold" }));
    row.dataset.callId = c.call_id;
    if (qa.detail && qa.detail.call.call_id === c.call_id) row.className = "open";
    row.onclick = () => act(() => openCall(c.call_id));
    return row;
  }));
  $("results-empty").hidden = qa.calls.length > 0;
  const s = qa.sample;
  $("sample-info").hidden = !s;
  $("sample-info").textContent = s ? t("sample.info", { week: s.week, percent: s.percent, n: s.calls.length }) : "";
}

// ------------------------------------------------------------------ one call
async function openCall(callId) {
  qa.detail = await api("/api/qa/calls/" + encodeURIComponent(callId));
  renderDetail(true);
  renderResults();
}

function renderDetail(fresh) {
  const d = qa.detail;
  const c = d.call;
  $("detail").hidden = false;
  $("d-call").textContent = c.call_id;
  const rows = [
    ["cdr.caller", c.caller_number + (c.caller_name ? " " + c.caller_name : "")],
    ["cdr.queue", c.queue || ""], ["cdr.agent", c.agent_id || ""],
    ["cdr.entered", when(c.entered_at)], ["cdr.answered", when(c.answered_at)],
    ["cdr.wait", clock(c.wait_s)], ["cdr.talk", clock(c.talk_s)],
    ["cdr.disposition", c.disposition], ["cdr.agent_disposition", c.agent_disposition || ""],
    ["cdr.notes", c.agent_notes || ""], ["cdr.verified", c.verified ? t("yes") : t("no")],
    ["cdr.survey", c.survey_score === null ? "" : String(c.survey_score)],
    ["cdr.nps", c.nps_score == null ? "" : String(c.nps_score)],
    ["cdr.callback", c.callback_outcome || ""],
  ];
  $("d-cdr").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", { textContent: t(k) }), el("dd", { textContent: v })]));
  $("d-ivr").replaceChildren(...d.ivr_steps.map((s) => el("li", { textContent: s })));
  $("btn-hold").textContent = t(d.hold ? "h.remove" : "h.put");
  $("hold-state").textContent = t(d.hold ? "h.on" : "h.off");
  $("hold-state").className = d.hold ? "held" : "";

  // audio: the mixed recording first, then each party, voicemail
  const parties = Object.keys(d.audio);
  $("d-audio").hidden = parties.length === 0;
  $("d-noaudio").hidden = parties.length > 0;
  const chosen = $("d-party").value;
  $("d-party").replaceChildren(...parties.map((p) => el("option", { value: p, textContent: t("party." + p) })));
  if (parties.includes(chosen) && !fresh) $("d-party").value = chosen;
  if (fresh) {
    $("player").src = parties.length ? d.audio[parties[0]] : "";
    $("d-party").value = parties[0] || "";
  }
  $("d-pauses").replaceChildren(...d.recording_pauses.map((p) =>
    el("li", { textContent: t("d.paused", { agent: p.agent_id, from: clock(p.start_s), to: clock(p.end_s) }) })));

  // tags with their time spans: a click seeks to the start
  $("d-tags").replaceChildren(...d.tags.map((tag) => {
    const span = tag.start_s === null ? "" : " " + clock(tag.start_s) + (tag.end_s === null ? "" : "–" + clock(tag.end_s));
    const button = el("button", { type: "button", textContent: tag.tag + span });
    button.dataset.tag = tag.tag;
    if (tag.detail && tag.detail.red_flag) button.className = "red";
    if (tag.start_s !== null) button.onclick = () => seek(tag.start_s);
    return el("li", {}, button);
  }));
  $("d-notags").hidden = d.tags.length > 0;
  renderTranscript();
  renderScoreForm(fresh);
  renderScores();
  if (fresh) {
    $("t-on").checked = !!d.training;
    $("t-note").value = d.training ? d.training.note : "";
    $("t-status").textContent = "";
  }
}

function renderTranscript() {
  const d = qa.detail;
  // turns and paused spans in time order; a paused span is marked in the text
  const items = d.transcript.map((turn) => ({ kind: "turn", start: Number(turn.start) || 0, turn }))
    .concat(d.recording_pauses.map((p) => ({ kind: "paused", start: p.start_s, pause: p })))
    .sort((a, b) => a.start - b.start);
  qa.turnEls = [];
  qa.wordEls = [];
  $("d-transcript").replaceChildren(...items.map((item) => {
    if (item.kind === "paused") {
      return el("li", { className: "paused", textContent: clock(item.pause.start_s) + "–" + clock(item.pause.end_s) + " " + t("d.paused_turn") });
    }
    const turn = item.turn;
    const li = el("li", { className: turn.party || "" },
      el("span", { className: "at", textContent: clock(turn.start) }),
      el("span", { className: "who", textContent: t("party." + turn.party) }));
    const words = Array.isArray(turn.words) ? turn.words : [];
    if (words.length) {
      for (const w of words) {
        const span = el("span", { className: "w", textContent: w.w });
        span.dataset.start = w.start;
        span.onclick = (ev) => { ev.stopPropagation(); seek(Number(w.start)); };
        qa.wordEls.push({ el: span, start: Number(w.start), end: Number(w.end) });
        li.append(span, " ");
      }
    } else {
      li.append(el("span", { className: "text", textContent: turn.text || "" }));
    }
    li.dataset.start = turn.start;
    li.onclick = () => seek(Number(turn.start));
    qa.turnEls.push({ el: li, start: Number(turn.start), end: Number(turn.end) });
    return li;
  }));
  $("d-notranscript").hidden = d.transcript.length > 0;
  follow();
}

function seek(seconds) {
  const player = $("player");
  if (!player.src) return;
  player.currentTime = Math.max(0, seconds);
  player.play().catch(() => {});
}

// the transcript follows the audio: the current turn and word are highlighted
function follow() {
  const now = $("player").currentTime || 0;
  $("d-time").textContent = clock(now);
  for (const x of qa.turnEls) x.el.classList.toggle("current", now >= x.start && now < x.end);
  for (const x of qa.wordEls) x.el.classList.toggle("current", now >= x.start && now < x.end);
}
$("player").addEventListener("timeupdate", follow);
$("player").addEventListener("seeked", follow);
$("d-party").addEventListener("change", () => {
  const player = $("player");
  const at = player.currentTime || 0;
  player.src = qa.detail.audio[$("d-party").value];
  player.addEventListener("loadedmetadata", () => { player.currentTime = at; }, { once: true });
});

// ------------------------------------------------------------------ scoring
function renderScoreForm(fresh) {
  const card = qa.card;
  const keep = {};
  if (!fresh) for (const input of $("s-criteria").querySelectorAll("input:checked")) keep[input.name] = input.value;
  $("s-criteria").replaceChildren(...card.sections.map((section) => el("fieldset", {},
    el("legend", { textContent: section.title[lang] || section.title.en }),
    ...section.criteria.map((c) => {
      const row = el("div", { className: "criterion" },
        el("span", { className: "name", textContent: (c.title[lang] || c.title.en) + " (" + c.weight + ")" }));
      row.dataset.criterion = c.id;
      for (const answer of ["pass", "fail", "na"]) {
        const input = el("input", { type: "radio", name: c.id, value: answer, required: true });
        if (keep[c.id] === answer) input.checked = true;
        row.append(el("label", {}, input, " " + t("ans." + answer)));
      }
      if (c.critical) row.append(el("span", { className: "critical", textContent: t("s.critical") }));
      return row;
    }))));
  if (fresh) { $("s-comments").value = ""; $("s-status").textContent = ""; delete $("s-status").dataset.total; }
}

function renderScores() {
  $("d-scores").tBodies[0].replaceChildren(...qa.detail.scores.map((s) => el("tr", {},
    el("td", { textContent: when(s.scored_at) }),
    el("td", { textContent: s.scorer }),
    el("td", { textContent: s.total + (s.critical_failed ? " (" + t("s.critical_failed") + ")" : "") }),
    el("td", { textContent: s.comments }))));
}

$("score-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  act(async () => {
    const answers = {};
    for (const input of $("s-criteria").querySelectorAll("input:checked")) answers[input.name] = input.value;
    const callId = qa.detail.call.call_id;
    const res = await api("/api/qa/calls/" + encodeURIComponent(callId) + "/scores", {
      answers, comments: $("s-comments").value,
    });
    $("s-status").dataset.total = res.score.total;
    $("s-status").textContent = t("s.saved", { total: res.score.total });
    $("s-status").className = "saved";
    qa.detail.scores.push(res.score);
    renderScores();
    await search();
  });
});

// a call on hold is kept from retention (the "hold" tag); each change is audited
$("btn-hold").addEventListener("click", () => act(async () => {
  const callId = qa.detail.call.call_id;
  await api("/api/qa/calls/" + encodeURIComponent(callId) + "/hold", { hold: !qa.detail.hold });
  qa.detail = await api("/api/qa/calls/" + encodeURIComponent(callId));
  renderDetail(false);
  await search();
}));

$("training-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  act(async () => {
    const callId = qa.detail.call.call_id;
    await api("/api/qa/calls/" + encodeURIComponent(callId) + "/training", {
      training: $("t-on").checked, note: $("t-note").value,
    });
    $("t-status").textContent = t("t.saved");
    $("t-status").className = "saved";
    await search();
  });
});

applyLanguage();
api("/api/me").then(enter).catch(() => showLogin());
