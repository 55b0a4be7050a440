// The crisis switch on the wallboard: a banner while a crisis profile is on
// (pushed as "crisis.state" frames) and, outside TV mode, a switch that turns a
// declared profile on or off. Uses the wallboard's t(), api(), lang and
// its catalogue (the crisis.* keys).
"use strict";

let crisis = null; // the last GET /api/crisis or crisis.state frame

function crisisTime(iso) {
  return iso ? new Date(iso).toLocaleTimeString(lang === "zh" ? "zh-CN" : "en-GB") : "";
}

function renderCrisis() {
  if (!crisis) return;
  const banner = $("crisis-banner");
  banner.hidden = !crisis.active;
  banner.textContent = crisis.active
    ? t("crisis.banner", { profile: crisis.profile, since: crisisTime(crisis.since), by: crisis.by || "" })
    : "";
  $("crisis-state").textContent = crisis.active ? "" : t("crisis.off_state");
  $("crisis-off").hidden = !crisis.active;
  const select = $("crisis-profile");
  if (crisis.profiles && select.options.length !== crisis.profiles.length) {
    select.replaceChildren(...crisis.profiles.map((p) => {
      const o = document.createElement("option");
      o.value = p.name;
      return o;
    }));
  }
  for (const o of select.options) {
    const p = (crisis.profiles || []).find((x) => x.name === o.value);
    o.textContent = p ? p.name + " · " + (p.label[lang] || p.label.en) : o.value;
  }
}

async function loadCrisis() {
  try {
    crisis = await api("/api/crisis");
    renderCrisis();
  } catch (err) { /* the wallboard shows session errors */ }
}

async function crisisSwitch(profile) {
  $("crisis-error").replaceChildren();
  try {
    const state = await api("/api/crisis", { profile });
    crisis = Object.assign(crisis || {}, state);
    renderCrisis();
  } catch (err) {
    const lines = [errorText(err)];
    const box = $("crisis-error");
    box.textContent = t("crisis.refused") + " " + lines.join(" ");
    if (err.problems) {
      const ul = document.createElement("ul");
      for (const p of err.problems) { const li = document.createElement("li"); li.textContent = p; ul.appendChild(li); }
      box.appendChild(ul);
    }
  }
}

$("crisis-on").addEventListener("click", () => {
  const profile = $("crisis-profile").value;
  if (profile && confirm(t("crisis.confirm_on", { profile }))) crisisSwitch(profile);
});
$("crisis-off").addEventListener("click", () => {
  if (confirm(t("crisis.confirm_off"))) crisisSwitch(null);
});
window.addEventListener("hotline:frame", (ev) => {
  const frame = ev.detail;
  if (frame.type === "crisis.state") { crisis = Object.assign(crisis || {}, frame.data); renderCrisis(); }
});
window.addEventListener("hotline:connected", loadCrisis);
$("lang").addEventListener("change", () => setTimeout(renderCrisis, 0));
