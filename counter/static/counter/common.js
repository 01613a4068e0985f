/* Növbə staff pages: language, the JSON API with the CSRF header, the live /counter connection,
   dialogs, toasts and time helpers. Plain JS, no build step. */
"use strict";

(function () {
  const N = (window.Novbe = {});
  const LANGS = ["az", "ru", "en"];
  const LANG_KEY = "novbe.staff.lang";

  // --- language ---------------------------------------------------------------------------
  N.lang = LANGS.includes(localStorage.getItem(LANG_KEY)) ? localStorage.getItem(LANG_KEY) : "az";
  N.t = function (key, vars) {
    const table = window.NOVBE_TEXTS[N.lang] || {};
    let s = table[key] ?? window.NOVBE_TEXTS.az[key] ?? key;
    if (vars) for (const [k, v] of Object.entries(vars)) s = s.split("{" + k + "}").join(v ?? "");
    return s;
  };
  N.name = function (text) {
    if (!text) return "";
    if (typeof text === "string") return text;
    return text[N.lang] || text.az || text.en || "";
  };
  // Counter names arrive with the full snapshot (on connect); a counter page's cut leaves them out.
  N.counterNames = {};
  N.counterName = (c) => N.name(c.name || N.counterNames[c.number]) || String(c.number);
  N.outcome = function (code) {
    const key = "outcome_" + code;
    const s = N.t(key);
    return s === key ? code.replace(/-/g, " ") : s;
  };
  /* Who did what an audit row says, in the reader's language. The log keeps staff by user name and
     everyone else by a code (``kiosk-1``, ``status``, ``system``, ``cli:…``, ``op1@keypad``); a code
     is read by its event, since a user could be called "status" too (a user name has no ":" nor "@"). */
  N.actorName = function (e) {
    const a = e.actor || "";
    if (!a) return "";
    if (a.startsWith("cli:")) return N.t("actor_cli", { user: a.slice(4) });
    if (a.endsWith("@keypad")) {
      const who = a.slice(0, -"@keypad".length);
      return who === "keypad" ? N.t("actor_keypad") : N.t("actor_keypad_of", { user: who });
    }
    if (e.event === "ticket-issued") return N.t("actor_kiosk", { name: a });
    if (e.event === "ticket-rated" && ["status", "screen", "keypad"].includes(a)) return N.t("actor_rated_" + a);
    if (e.event === "ticket-cancelled" && a === "citizen") return N.t("actor_rated_status");
    if (e.event === "ticket-expired" && a === "system") return N.t("actor_system");
    if (a === "sim") return N.t("actor_sim");
    return a;
  };
  N.applyI18n = function (root) {
    (root || document).querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = N.t(el.dataset.i18n); });
    (root || document).querySelectorAll("[data-i18n-placeholder]").forEach((el) => {
      el.placeholder = N.t(el.dataset.i18nPlaceholder);
    });
    document.documentElement.lang = N.lang;
    // the center's name in the page's language where the center file gives one
    document.querySelectorAll("[data-names]").forEach((el) => { el.textContent = N.name(JSON.parse(el.dataset.names)); });
    // the window's title too, where the page names its key ("Hesabatlar — center" stayed Azerbaijani)
    const title = document.querySelector("title[data-i18n-title]");
    const center = document.querySelector("header [data-names]");
    if (title && title.dataset.i18nTitle) {
      document.title = `${N.t(title.dataset.i18nTitle)} — ${center ? center.textContent : ""}`;
    }
    document.querySelectorAll(".lang button").forEach((b) => b.classList.toggle("on", b.dataset.lang === N.lang));
  };
  /* Pause reasons are kept as the Azerbaijani text of the preset chosen (or as typed): a preset's
     text, in any of the three languages, is shown in the reader's language; anything else as typed. */
  window.NOVBE_PAUSE_REASONS = ["pause_lunch", "pause_short", "pause_tech", "pause_meeting", "pause_backoffice"];
  window.novbePauseReason = function (reason, lang) {
    const texts = window.NOVBE_TEXTS;
    const key = window.NOVBE_PAUSE_REASONS.find((k) => LANGS.some((l) => texts[l][k] === reason));
    return key ? (texts[lang] || texts.az)[key] || texts.az[key] : reason || "";
  };
  N.onLang = [];
  N.setLang = function (lang) {
    if (!LANGS.includes(lang)) return;
    N.lang = lang;
    localStorage.setItem(LANG_KEY, lang);
    N.applyI18n();
    N.onLang.forEach((f) => f());
  };

  N.esc = function (s) {
    return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  };

  // --- session and the API ----------------------------------------------------------------
  N.user = null;
  N.csrf = null;
  N.logins = 0;       // counts this page's logins: what a request answered after a new login belongs to

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.message) || "error");
      this.status = status;
      this.code = (body && body.error) || (status ? "error" : "network");
      this.body = body || {};
    }
  }
  N.ApiError = ApiError;

  async function raw(method, path, body) {
    // The page's language, so that an error's message comes back in it (from the same catalogue).
    const headers = { Accept: "application/json", "Accept-Language": N.lang };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET" && N.csrf) headers["X-CSRFToken"] = N.csrf;
    let resp;
    try {
      resp = await fetch(path, { method, headers, credentials: "same-origin",
                                 body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      throw new ApiError(0, { error: "network", message: String(e.message || e) });
    }
    let data = null;
    try { data = await resp.json(); } catch (e) { data = null; }
    if (!resp.ok || (data && data.ok === false)) throw new ApiError(resp.status, data || { error: "error", message: resp.statusText });
    return data;
  }

  N.api = async function (method, path, body) {
    // Whose request this is: a refusal that comes back after a new login (a request of the session just
    // logged out, still on its way) must not end the new session.
    const who = N.user ? N.logins : null;
    try {
      return await raw(method, path, body);
    } catch (e) {
      if (e.code === "csrf_failed" && method !== "GET") {
        // The token went stale (e.g. the secret rotated): fetch a fresh one and try once more.
        await N.me();
        return await raw(method, path, body);
      }
      if (e.status === 401 && who !== null && N.user && N.logins === who && path !== "/api/login") N.sessionEnded("ended");
      throw e;
    }
  };
  N.onLoggedOut = [];

  /* Why the session ended, as the server's /counter socket says it (session-ended {reason}); the login
     form shows it in the page's language. The first reason stays until the next login: a vaguer
     notice that follows (a refused request, the socket's own disconnect) does not replace it. */
  const ENDED = { logged_out: "session_ended_logged_out", disabled: "session_ended_disabled",
                  role_changed: "session_ended_role_changed", password_changed: "session_ended_password_changed",
                  expired: "session_ended_expired", ended: "session_ended_ended" };
  N.sessionEnded = function (reason) {
    const s = N.live.socket;
    N.live.socket = null;        // the server has ended it: no reconnecting with a dead cookie
    N.live.connected = false;
    if (s) s.disconnect();
    const msg = document.getElementById("login-error");
    if (msg && !msg.dataset.i18n) {
      msg.dataset.i18n = ENDED[reason] || ENDED.ended;
      msg.textContent = N.t(msg.dataset.i18n);   // and again by applyI18n when the language changes
    }
    N.user = null;
    N.csrf = null;
    N.onLoggedOut.forEach((f) => f());
  };

  N.me = async function () {
    try {
      const me = await raw("GET", "/api/me");
      N.user = { username: me.username, role: me.role };
      N.csrf = me.csrf_token;
      return N.user;
    } catch (e) {
      if (e.status === 401) { N.user = null; return null; }
      throw e;
    }
  };
  N.login = async function (username, password) {
    const r = await raw("POST", "/api/login", { username, password });
    N.logins += 1;
    N.user = { username: r.username, role: r.role };
    N.csrf = r.csrf_token;
    return N.user;
  };
  N.logout = async function () {
    // The socket first: the server ends this account's sockets at logout, and this page need not be told why.
    if (N.live.socket) { N.live.socket.disconnect(); N.live.socket = null; }
    try { await raw("POST", "/api/logout"); } catch (e) { /* leaving anyway */ }
    N.user = null;
    N.csrf = null;
  };
  N.isSupervisor = function () {
    return !!N.user && (N.user.role === "supervisor" || N.user.role === "admin");
  };

  // --- the live connection: snapshot on connect, re-ask on any newer event -------------------
  // Snapshot requests are coalesced: one in flight at a time, and a token bucket (a burst of
  // 4, refilled at 4 a second) so a quiet hall updates at once and a busy one costs the
  // server at most ~4 snapshots a second per page.
  const BURST = 4, PER_SECOND = 4;
  N.live = {
    socket: null, snap: null, seq: -1, skew: 0, connected: false, scope: null,
    relevant: null,   // (event name, data) => whether the page must refresh; null: every event
    onSnapshot: [], onEvent: [], onStatus: [],
    _inFlight: false, _pending: false, _tokens: BURST, _refilled: Date.now(), _timer: null,

    connect() {
      if (this.socket) return;
      // The server takes a /counter socket only with the session's CSRF token (read at every
      // (re)connect: a new login brings a new token).
      const s = (this.socket = io("/counter", { transports: ["websocket", "polling"], reconnectionDelayMax: 3000,
                                                auth: (cb) => cb({ csrf_token: N.csrf }) }));
      s.on("connect", () => { this.connected = true; this.onStatus.forEach((f) => f(true)); });
      s.on("disconnect", (reason) => {
        this.connected = false;
        this.onStatus.forEach((f) => f(false));
        // Ended by the server (it does not come back by itself): logged out, or asked to connect again.
        if (reason === "io server disconnect" && this.socket === s) {
          N.me().then((u) => {
            if (!u) N.sessionEnded("ended");
            else if (this.socket === s) s.connect();
          }).catch(() => {});
        }
      });
      s.on("session-ended", (data) => { if (this.socket === s) N.sessionEnded(data && data.reason); });
      s.on("connect_error", (err) => {
        this.connected = false;
        this.onStatus.forEach((f) => f(false, err));
        // The server refuses a socket without a valid login or CSRF token: check the session over
        // HTTP (which also fetches a fresh token) and, still logged in, try again in a moment.
        N.me().then((u) => {
          if (this.socket !== s) return;          // a socket of an earlier login: nothing to end
          if (!u) N.sessionEnded("ended");
          else if (!s.active) setTimeout(() => { if (this.socket === s && !s.active) s.connect(); }, 3000);
        }).catch(() => {});
      });
      s.on("snapshot", (snap) => this.apply(snap));
      s.onAny((name, data) => {
        if (name === "snapshot" || name === "session-ended") return;
        if (data && typeof data.seq === "number" && data.seq > this.seq) {
          // The next event in sequence that changes nothing this page shows only moves the
          // sequence number on; anything else (or a gap) asks for a fresh snapshot.
          if (data.seq === this.seq + 1 && this.relevant && !this.relevant(name, data)) this.seq = data.seq;
          else this.request();
        }
        this.onEvent.forEach((f) => f(name, data));
      });
    },

    apply(snap) {
      if (!snap || typeof snap.seq !== "number") return;
      if (snap.seq < this.seq) return;   // an older answer overtaken by a newer one
      for (const c of snap.counters || []) if (c.name) N.counterNames[c.number] = c.name;
      this.snap = snap;
      this.seq = snap.seq;
      if (typeof snap.now === "number") this.skew = snap.now - Date.now() / 1000;
      this.onSnapshot.forEach((f) => f(snap));
    },

    /** Ask for a fresh snapshot (coalesced, see above). */
    request() {
      if (!this.socket || !this.socket.connected) return;
      if (this._inFlight) { this._pending = true; return; }
      const now = Date.now();
      this._tokens = Math.min(BURST, this._tokens + ((now - this._refilled) / 1000) * PER_SECOND);
      this._refilled = now;
      if (this._tokens < 1) {
        const wait = Math.ceil(((1 - this._tokens) / PER_SECOND) * 1000);
        if (!this._timer) this._timer = setTimeout(() => { this._timer = null; this.request(); }, wait);
        return;
      }
      this._tokens -= 1;
      this._inFlight = true;
      this._pending = false;
      // A counter page asks for its own cut of the staff snapshot (shared by the server per event).
      const scope = this.scope == null ? {} : { counter: this.scope };
      this.socket.timeout(5000).emit("counter-snapshot", scope, (err, snap) => {
        this._inFlight = false;
        if (!err) {
          if (snap) this.apply(snap);
          else N.me().then((u) => { if (!u) N.sessionEnded("ended"); }).catch(() => {});
        }
        if (this._pending) this.request();
      });
    },
  };

  // --- time -------------------------------------------------------------------------------
  N.serverNow = () => Date.now() / 1000 + N.live.skew;
  N.fmtDuration = function (sec) {
    sec = Math.max(0, Math.floor(sec));
    const h = Math.floor(sec / 3600), m = Math.floor((sec % 3600) / 60), s = sec % 60;
    const mm = String(m).padStart(h ? 2 : 1, "0"), ss = String(s).padStart(2, "0");
    return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
  };
  const clockFmt = {};
  N.fmtClock = function (epoch) {
    if (!epoch) return "";
    const f = (clockFmt[N.lang] = clockFmt[N.lang] ||
      new Intl.DateTimeFormat(N.lang === "az" ? "az-Latn-AZ" : N.lang, { timeZone: "Asia/Baku", hour: "2-digit", minute: "2-digit", hour12: false }));
    return f.format(new Date(epoch * 1000));
  };
  N.minutesSince = (epoch) => Math.max(0, Math.floor((N.serverNow() - epoch) / 60));
  // Running timers: any element with data-since (epoch seconds) shows the time since then.
  function put(el, text) { if (el.textContent !== text) el.textContent = text; }
  N.tick = function () {
    document.querySelectorAll("[data-since]").forEach((el) => {
      put(el, N.fmtDuration(N.serverNow() - Number(el.dataset.since)));
    });
    document.querySelectorAll("[data-wait-since]").forEach((el) => {
      put(el, N.t("waited", { m: N.minutesSince(Number(el.dataset.waitSince)) }));
    });
  };
  setInterval(() => N.tick(), 250);   // a quarter second: the seconds turn over on time

  // --- messages ---------------------------------------------------------------------------
  N.toast = function (text, kind, detail) {
    const box = document.getElementById("toasts");
    if (!box) return;
    const el = document.createElement("div");
    el.className = "toast " + (kind || "info");
    el.setAttribute("role", kind === "error" ? "alert" : "status");
    el.innerHTML = `<b>${N.esc(text)}</b>` + (detail ? `<small>${N.esc(detail)}</small>` : "");
    el.addEventListener("click", () => el.remove());
    box.appendChild(el);
    while (box.children.length > 4) box.firstChild.remove();
    setTimeout(() => el.remove(), kind === "error" ? 9000 : 3500);
  };
  N.errorText = function (e) {
    const table = window.NOVBE_ERRORS[N.lang] || window.NOVBE_ERRORS.az;
    const code = (e && e.code) || "error";
    return table[code] || table.error;
  };
  /** The server's own words about an error, only when they are in the page's language and say more than
      the code's text: a localised answer keeps its English original in "detail"; an unlocalised (English)
      one is shown on an English page only. */
  N.errorDetail = function (e) {
    const detail = e && e.body && e.body.message ? e.body.message : e && e.message;
    const inLang = N.lang === "en" || (e && e.body && e.body.detail !== undefined);
    return inLang && detail && detail !== N.errorText(e) ? detail : "";
  };
  N.showError = function (e) {
    N.toast(N.errorText(e), "error", N.errorDetail(e));
  };

  // --- dialogs ----------------------------------------------------------------------------
  let pendingConfirm = null;
  /** A yes/no question in the page's own dialog; resolves to true or false. */
  N.confirm = function ({ title, text, yes, danger }) {
    const dlg = document.getElementById("confirm-dialog");
    dlg.querySelector(".dlg-title").textContent = title || "";
    dlg.querySelector(".dlg-text").textContent = text || "";
    const ok = dlg.querySelector("[data-answer=yes]");
    ok.textContent = yes || N.t("yes");
    ok.className = "btn " + (danger ? "danger" : "primary");
    dlg.querySelector("[data-answer=no]").textContent = N.t("no");
    // A question still pending (its dialog closed, its "close" event not yet delivered) is answered "no"
    // first: that late event must not close the new question the moment it opens.
    if (pendingConfirm) pendingConfirm(false);
    return new Promise((resolve) => {
      const done = (answer) => {
        pendingConfirm = null;
        dlg.removeEventListener("cancel", onClose);
        dlg.removeEventListener("close", onClose);
        if (dlg.open) dlg.close();
        resolve(answer);
      };
      pendingConfirm = done;
      // Escape fires "cancel" at once; "close" comes a task later and only counts while nothing reopened it.
      const onClose = (ev) => { if (ev.type === "cancel" || !dlg.open) done(false); };
      dlg.addEventListener("cancel", onClose);
      dlg.addEventListener("close", onClose);
      dlg.querySelectorAll("[data-answer]").forEach((b) => { b.onclick = () => done(b.dataset.answer === "yes"); });
      dlg.showModal();
      dlg.querySelector("[data-answer=no]").focus();
    });
  };
  N.dialogOpen = () => !!document.querySelector("dialog[open]");

  // --- redraws in place ------------------------------------------------------------------------
  /* A busy hall sends a snapshot every few seconds. A region drawn anew with innerHTML replaces the button
     under the operator's pointer: a press that began on the old button and ends on the new one is no click
     at all (measured in Chromium: "call next" did nothing). morphdom (server/static/vendor/morphdom-umd.min.js, MIT)
     patches the region instead: a control that stands for the same thing stays the same element, with its
     new text, attributes and disabled state, so a press on it and the focus on it survive the redraw. */
  const MORPH_KEYS = ["data-act", "data-outcome", "data-verify", "data-call", "data-return", "data-counter",
    "data-number", "data-reprint", "data-job"];
  /** What an element stands for across redraws (its id, or its action and subject), or nothing. */
  function morphKey(el) {
    if (el.nodeType !== 1) return undefined;
    if (el.id) return "#" + el.id;
    const k = MORPH_KEYS.filter((a) => el.hasAttribute(a)).map((a) => a + "=" + el.getAttribute(a)).join("|");
    return k ? el.nodeName + "|" + k : undefined;
  }
  /** Make ``root``'s content ``html``, keeping every element already there that stands for the same thing. */
  N.morph = function (root, html) {
    const next = root.cloneNode(false);   // parsed in root's own context: <tr> rows inside a <tbody> stay rows
    next.innerHTML = html;
    window.morphdom(root, next, {
      childrenOnly: true,
      getNodeKey: morphKey,
      onBeforeElUpdated: (from, to) => !from.isEqualNode(to),   // an unchanged row costs nothing
    });
  };

  // --- focus across redraws ---------------------------------------------------------------
  // The staff pages patch their regions in place (N.morph), so a focused control usually stays where it is;
  // one that is gone or disabled after a redraw would drop the keyboard focus to <body>. A redraw notes
  // which control had it and gives it back, or moves it to the nearest sensible control.
  const FOCUS_ATTRS = ["data-act", "data-outcome", "data-verify", "data-call", "data-return", "data-counter", "data-tab"];
  /** The focused control as a selector that finds it again after a redraw of ``root``: null when the
   *  focus is outside ``root`` (leave it alone), "" when it is nowhere (on <body>). */
  N.focusKey = function (root) {
    const a = document.activeElement;
    if (!a || a === document.body || a === document.documentElement) return "";
    if (!root || !root.contains(a)) return null;
    if (a.id) return "#" + CSS.escape(a.id);
    const sel = FOCUS_ATTRS.filter((k) => a.hasAttribute(k)).map((k) => `[${k}="${CSS.escape(a.getAttribute(k))}"]`).join("");
    return sel ? a.tagName.toLowerCase() + sel : "";
  };
  /** Focus the control ``key`` names inside ``root`` again, or else the first usable of ``fallbacks``
   *  (selectors or elements); nothing while a dialog is open or when the focus was elsewhere. */
  N.refocus = function (root, key, fallbacks) {
    if (key === null || !root || N.dialogOpen()) return;
    const usable = (el) => !!el && !el.disabled && el.getClientRects().length > 0 && !el.closest("[hidden], [inert]");
    let el = key ? root.querySelector(key) : null;
    if (!usable(el)) {
      el = (fallbacks || []).map((f) => (typeof f === "string" ? root.querySelector(f) : f)).find(usable);
      if (el && el.tabIndex < 0 && !el.hasAttribute("tabindex")) el.setAttribute("tabindex", "-1");
    }
    if (el && el !== document.activeElement) el.focus({ preventScroll: !!key && el.matches(key) });
  };

  // --- shared page chrome -----------------------------------------------------------------
  N.chrome = function () {
    document.querySelectorAll(".lang button").forEach((b) => b.addEventListener("click", () => N.setLang(b.dataset.lang)));
    N.live.onStatus.push((up) => {
      const el = document.getElementById("conn");
      if (!el) return;
      el.classList.toggle("up", up);
      el.querySelector("span").textContent = N.t(up ? "connected" : "disconnected");
    });
    N.onLang.push(() => {
      const el = document.getElementById("conn");
      if (el) el.querySelector("span").textContent = N.t(N.live.connected ? "connected" : "disconnected");
    });
    N.applyI18n();
  };

  /** Wire the login form; ``then`` runs once logged in. */
  N.loginForm = function (then) {
    const form = document.getElementById("login-form");
    const msg = document.getElementById("login-error");
    const btn = form.querySelector("button[type=submit]");
    let until = 0, timer = null;
    /* Throttled (429 with retry_after): the seconds left, counted down, and the button held until then. */
    function waitShown() {
      const left = Math.ceil((until - Date.now()) / 1000);
      if (left > 0) {
        msg.textContent = N.t("login_wait", { s: left });
        btn.disabled = true;
        return;
      }
      clearInterval(timer);
      timer = null;
      msg.textContent = "";
      btn.disabled = false;
    }
    N.onLang.push(() => { if (timer) waitShown(); });
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (timer) return;
      msg.textContent = "";
      delete msg.dataset.i18n;   // a session-ended notice goes with the next attempt
      btn.disabled = true;
      try {
        await N.login(form.username.value.trim(), form.password.value);
        form.password.value = "";
        then();
      } catch (e) {
        const retry = Number(e.body && e.body.retry_after);
        if (e.status === 429 && retry > 0) {
          until = Date.now() + retry * 1000;
          timer = setInterval(waitShown, 250);
          waitShown();
          return;
        }
        msg.textContent = e.code === "unauthorized" ? N.t("wrong_login") : N.errorText(e) + (N.errorDetail(e) ? " — " + N.errorDetail(e) : "");
      } finally {
        if (!timer) btn.disabled = false;
      }
    });
  };

  /** A staff role ("operator", "supervisor", "admin") in the page's language, from the catalogue (role_*). */
  N.roleName = function (role) {
    const key = "role_" + role;
    const s = N.t(key);
    return s === key ? String(role ?? "") : s;
  };
  /* The header's "name · role"; drawn again when the language changes (every page, the "not allowed" one too). */
  let userOnLang = false;
  N.showUser = function () {
    const el = document.getElementById("who");
    if (el) el.textContent = N.user ? `${N.user.username} · ${N.roleName(N.user.role)}` : "";
    document.body.classList.toggle("logged-in", !!N.user);
    if (!userOnLang) { userOnLang = true; N.onLang.push(() => N.showUser()); }
  };
})();
