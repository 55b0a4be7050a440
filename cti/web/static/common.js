// What every page shares: JSON calls to the API with one error type, and translations.
"use strict";

const hotline = (() => {
  class ApiError extends Error {
    constructor(status, code, message) { super(message); this.status = status; this.code = code; }
  }

  // GET without a body, POST with one (JSON both ways). Failures are ApiErrors:
  // status 0 and code "network" when the server could not be reached.
  async function request(path, body) {
    let res;
    try {
      res = await fetch(path, {
        method: body === undefined ? "GET" : "POST",
        headers: body === undefined ? {} : { "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "same-origin",
      });
    } catch (err) {
      throw new ApiError(0, "network", String(err));
    }
    const data = await res.json().catch(() => ({}));
    if (!res.ok) {
      const err = new ApiError(res.status, data.error || "http_" + res.status, data.message || res.statusText);
      err.problems = data.problems; // e.g. each problem of a refused file
      throw err;
    }
    return data;
  }

  // The page's language: the one chosen before, else the browser's (zh or en).
  function initialLanguage() {
    return localStorage.getItem("hotline.lang")
      || ((navigator.language || "").toLowerCase().startsWith("zh") ? "zh" : "en");
  }

  // key -> text in lang (English when lang lacks it; undefined when neither has it),
  // with {name} placeholders filled from vars.
  function translate(catalogue, lang, key, vars) {
    let text = (catalogue[lang] && catalogue[lang][key]) || catalogue.en[key];
    if (text === undefined) return undefined;
    for (const [k, v] of Object.entries(vars || {})) text = text.split("{" + k + "}").join(String(v));
    return text;
  }

  return { ApiError, request, initialLanguage, translate };
})();
