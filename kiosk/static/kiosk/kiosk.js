/* Növbə kiosk: a touch-only page that issues tickets through the JSON API.
 *
 * Screens: start → areas → services → info → priority → ticket, plus search and setup.
 * Live: Socket.IO /kiosk (snapshot on every connect; any event refreshes the services,
 * at most every 2 s). Every fetch retries quietly with back-off; a ticket request is
 * never repeated by itself (the first one may have been issued).
 */
(function () {
  "use strict";

  const BOOT = JSON.parse(document.getElementById("boot").textContent);
  const I18N = BOOT.i18n;
  const LANGS = BOOT.languages.length ? BOOT.languages : ["az", "ru", "en"];
  const TOKEN_KEY = "novbe.kiosk.token";
  const CACHE_KEY = "novbe.kiosk.services";
  const REFRESH_EVERY_MS = 2000;
  const IDLE_MS = Math.max(5, BOOT.idle_seconds || 30) * 1000;
  // WCAG 2.2.1: before the kiosk gives up on a citizen it asks, for at least 20 s, whether they need
  // more time. A service's information (the documents to bring) is read slowly: three times as long.
  const WARN_SECONDS = 20;
  const INFO_IDLE_FACTOR = 3;
  // After every change of what the screen shows, taps are ignored this long: the second tap of a double tap
  // (measured here: Chromium pairs two touch taps 318 ms apart into a dblclick, not 396 ms; Windows' default double-click
  // time is 500 ms; a touch's own click comes 1-16 ms after it, so ghost clicks need less)
  // or a touch driver's ghost click would otherwise land on whatever the new screen has at that place, e.g. a
  // priority group under "get the ticket". Nobody reads a new screen and chooses on it in half a second.
  const TAP_GUARD_MS = 500;

  const $ = (id) => document.getElementById(id);
  const state = {
    lang: "az", screen: null, stack: [], data: null, area: null, service: null, ticket: null,
    query: "", keyboard: "latin", online: true, busy: false, a11y: false,
  };

  // --- strings -----------------------------------------------------------------------------
  function t(key, vars) {
    const table = I18N[state.lang] || I18N.az;
    let s = table[key] !== undefined ? table[key] : I18N.az[key];
    if (s === undefined) return key;
    if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (vars[k] !== undefined ? String(vars[k]) : m));
    return s;
  }
  function nm(text) {
    if (!text) return "";
    return text[state.lang] || text.az || "";
  }
  /** A local ISO time from the server ("2026-11-25T09:00:00+04:00", already center time) for people. */
  function when(iso) {
    if (!iso) return "";
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(iso);
    if (!m) return iso;
    const date = m[1] + "-" + m[2] + "-" + m[3];
    const time = m[4] + ":" + m[5];
    const today = state.data && state.data.day;
    if (today) {
      if (date === today) return t("today_at", { time });
      const d0 = Date.UTC(+today.slice(0, 4), +today.slice(5, 7) - 1, +today.slice(8, 10));
      const d1 = Date.UTC(+m[1], +m[2] - 1, +m[3]);
      if (d1 - d0 === 86400000) return t("tomorrow_at", { time });
    }
    const wd = (new Date(Date.UTC(+m[1], +m[2] - 1, +m[3])).getUTCDay() + 6) % 7; // Monday = 0
    return t("date_at", { day: +m[3], month: t("months")[+m[2] - 1], weekday: t("weekdays")[wd], time });
  }
  function hallName(area) {
    const m = area && area.hall ? /(\d+)$/.exec(area.hall) : null;
    return m ? t("hall", { n: m[1] }) : "";
  }

  // --- DOM helpers -------------------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "on") onClick(node, v);
      else if (k.startsWith("data-") || k === "role" || k === "type" || k === "lang" || k.startsWith("aria-")) node.setAttribute(k, v);
      else node[k] = v;
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }
  /** A node's click action, kept in one place so that an update in place (fill) can change it. */
  function onClick(node, fn) {
    node._on = fn;
    if (!node._onBound) { node._onBound = true; node.addEventListener("click", (e) => { if (node._on) node._on(e); }); }
  }
  /** Makes ``node``'s children the given ones, keeping every node already there that stands for the same thing
      (the same tag, and the same service, area, group or language for a card): it is updated in place, not replaced.
      A live refresh re-renders the lists every few seconds in a busy hall; a replaced card would drop the focus of a
      keyboard or screen reader on it, and lose a touch begun on it (the tap would do nothing). */
  function fill(node, ...children) {
    const next = node.cloneNode(false);
    next.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
    morphdom(node, next, {
      childrenOnly: true,
      getNodeKey: (n) => (n.nodeType === 1 ? KEYS_OF.map((k) => n.getAttribute(k) || "").join("|").replace(/^\|+$/, "") || n.id || undefined
        : undefined),
      // the kept node takes the new data's action (a service's availability, its forecast)
      onBeforeElUpdated: (from, to) => { if (to._on || from._on) onClick(from, to._on || null); return true; },
    });
  }
  const KEYS_OF = ["data-service", "data-area", "data-group", "data-lang"];

  // --- the device token --------------------------------------------------------------------
  function loadToken() {
    const url = new URL(location.href);
    const fromUrl = url.searchParams.get("token");
    if (fromUrl) {
      try { localStorage.setItem(TOKEN_KEY, fromUrl); } catch (e) { /* private mode: keep it in memory */ }
      url.searchParams.delete("token");
      history.replaceState(null, "", url.pathname + url.search + url.hash);
      return fromUrl;
    }
    try { return localStorage.getItem(TOKEN_KEY); } catch (e) { return null; }
  }
  const TOKEN = loadToken();
  const authHeaders = () => ({ Authorization: "Bearer " + TOKEN });

  // --- services: fetch with quiet back-off, live refresh -----------------------------------
  let fetchDelay = 1000, retryTimer = null, fetching = false, again = false, lastFetch = 0, throttleTimer = null;

  async function fetchServices() {
    if (fetching) { again = true; return; }
    fetching = true; again = false; lastFetch = Date.now();
    clearTimeout(retryTimer);
    try {
      const r = await fetch("/api/services", { headers: authHeaders(), cache: "no-store", signal: timeout(8000) });
      if (!r.ok) throw new Error("HTTP " + r.status);
      applyServices(await r.json());
      fetchDelay = 1000;
      setOnline(true, "http");
    } catch (e) {
      setOnline(false, "http");
      retryTimer = setTimeout(fetchServices, fetchDelay);
      fetchDelay = Math.min(fetchDelay * 2, 30000);
    } finally {
      fetching = false;
      if (again) requestRefresh();
    }
  }
  /** Refresh at most every REFRESH_EVERY_MS, always ending with one after the last event. */
  function requestRefresh() {
    if (throttleTimer) return;
    const wait = Math.max(0, lastFetch + REFRESH_EVERY_MS - Date.now());
    throttleTimer = setTimeout(() => { throttleTimer = null; fetchServices(); }, wait);
  }
  function timeout(ms) {
    if (window.AbortSignal && AbortSignal.timeout) return AbortSignal.timeout(ms);
    const c = new AbortController(); setTimeout(() => c.abort(), ms); return c.signal;
  }
  function applyServices(d) {
    if (!d || !Array.isArray(d.services)) return;
    state.data = d;
    try { localStorage.setItem(CACHE_KEY, JSON.stringify(d)); } catch (e) { /* full or private: fine */ }
    if (state.service) state.service = d.services.find((s) => s.code === state.service.code) || state.service;
    rerender();
  }

  // Connection state: HTTP and socket each report; the banner shows after a short grace period.
  const down = { http: false, socket: false };
  let bannerTimer = null;
  function setOnline(ok, which) {
    down[which] = !ok;
    const offline = down.http || down.socket;
    if (!offline) {
      clearTimeout(bannerTimer); bannerTimer = null;
      $("offline").hidden = true;
      state.online = true;
    } else if (!bannerTimer && $("offline").hidden) {
      bannerTimer = setTimeout(() => { bannerTimer = null; state.online = false; $("offline").hidden = false; }, 1500);
    }
  }

  // --- Socket.IO ------------------------------------------------------------------------------
  let socket = null;
  function connectSocket() {
    if (typeof io !== "function") return;
    socket = io("/kiosk", { auth: { token: TOKEN }, reconnectionDelay: 1000, reconnectionDelayMax: 4000 });
    socket.on("connect", () => { setOnline(true, "socket"); if (state.screen === "setup") goStart(); requestRefresh(); heartbeat(); });
    socket.on("disconnect", () => setOnline(false, "socket"));
    socket.on("connect_error", () => {
      if (!socket.active) {
        // The server refused the token (it never refuses for any other reason): not set up.
        showSetup(true);
        setTimeout(() => socket.connect(), 30000);
      } else {
        setOnline(false, "socket");
      }
    });
    socket.on("snapshot", (d) => applyServices(d));
    socket.onAny((name, d) => {
      if (name === "snapshot") return;
      printEvent(name, d);
      requestRefresh();
    });
    setInterval(heartbeat, (BOOT.heartbeat_seconds || 15) * 1000);   // the server flags silence after 4 missed
  }
  /** The heartbeat: the supervisor's device list shows this kiosk's page version and its last print. */
  let lastPrint = null;
  function heartbeat() {
    if (!socket || !socket.connected) return;
    const k = state.ticket;
    if (k) lastPrint = k.print === "delayed" ? "delayed" : (k.print === "staff" || k.printFailed) ? "failed" : "ok";
    socket.emit("heartbeat", { version: BOOT.version || "", printer: lastPrint });
  }
  /** Our ticket's print job as the spool tells it (server/printing.py): "delayed" while it retries,
   *  "staff" once it is given up or held, "printing" again when it printed after all. */
  const PRINT_EVENTS = { "print-retry": "delayed", "print-done": "printing", "print-held": "staff", "print-failed": "staff" };
  function printEvent(name, d) {
    const next = PRINT_EVENTS[name];
    if (!next || !d || !state.ticket || d.number !== state.ticket.number) return;
    if (state.ticket.print === "staff" || state.ticket.print === next) return;   // given up is final
    state.ticket.print = next;
    state.ticket.printFailed = next !== "printing";
    if (state.screen === "ticket") {
      renderTicket();
      startTicketCountdown();
      if (state.a11y) say(ticketSaid());   // the printer's news, and the countdown it restarted
    }
  }

  // --- the tap guard -------------------------------------------------------------------------
  // A transparent shield over everything for TAP_GUARD_MS after each change of view (a screen, a message, the idle
  // warning): a tap in that time lands on it and does nothing. viewSeq counts the views, so that one view can ask
  // for at most one ticket, whatever reaches its buttons.
  let viewSeq = 0, guardTimer = null;
  function guardTaps() {
    viewSeq++;
    $("tapShield").hidden = false;
    clearTimeout(guardTimer);
    guardTimer = setTimeout(() => { $("tapShield").hidden = true; }, TAP_GUARD_MS);
  }
  // The shield keeps the focus where the new view put it and swallows the touch's own mouse events and click.
  $("tapShield").addEventListener("touchstart", (e) => e.preventDefault(), { passive: false });
  $("tapShield").addEventListener("mousedown", (e) => e.preventDefault());
  $("tapShield").addEventListener("click", (e) => { e.preventDefault(); e.stopPropagation(); });

  // --- navigation ----------------------------------------------------------------------------
  const SCREENS = ["start", "areas", "services", "search", "info", "priority", "ticket", "setup"];
  function show(name, push) {
    if (push && state.screen && state.screen !== name) state.stack.push(state.screen);
    state.screen = name;
    guardTaps();
    for (const s of SCREENS) $("s-" + s).hidden = s !== name;
    document.body.dataset.screen = name;
    const nav = !["start", "ticket", "setup"].includes(name);
    $("nav").hidden = !nav;
    $("searchBtn").hidden = name === "search";
    rerender();
    $("main").scrollTop = 0;
    armIdle();
    focusScreen();
    updateMoreHint();
    if (state.a11y) sayAfter(titleId());
  }
  /** A new screen takes the focus to its heading: a screen reader (or a keyboard) starts there. */
  function focusScreen() {
    if (!modalOpen()) {
      const h = $("s-" + state.screen).querySelector("h1");
      if (h) { h.tabIndex = -1; h.focus({ preventScroll: true }); }
    }
  }
  function go(name) { show(name, true); }
  function back() {
    const prev = state.stack.pop();
    if (prev && prev !== "ticket") show(prev, false); else goStart();
  }
  function goStart() {
    state.stack = []; state.area = null; state.service = null; state.ticket = null; state.query = "";
    state.keyboard = "latin";   // the next citizen starts with the Latin keyboard, as with Azerbaijani
    stopTicketCountdown();
    hideIdleWarning();
    closeModal();
    setLang("az", false);
    setA11y(false);   // the next citizen starts in the standard mode, as with Azerbaijani
    show("start", false);
  }
  function showSetup(rejected) {
    show("setup", false);
    $("s-setup").dataset.rejected = rejected ? "1" : "";
  }

  // Any screen left alone first asks whether the citizen needs more time, then returns to the start
  // (the ticket screen has its own countdown, shown on it, which any touch restarts).
  let idleTimer = null, warnTimer = null, warnEnd = 0;
  function idleMs() { return state.screen === "info" ? IDLE_MS * INFO_IDLE_FACTOR : IDLE_MS; }
  function armIdle() {
    clearTimeout(idleTimer);
    hideIdleWarning();
    if (["start", "ticket", "setup"].includes(state.screen)) return;
    idleTimer = setTimeout(showIdleWarning, idleMs());
  }
  function showIdleWarning() {
    warnEnd = Date.now() + WARN_SECONDS * 1000;
    $("idleWarn").hidden = false;
    guardTaps();
    setInert();
    updateIdleWarning();
    clearInterval(warnTimer);
    warnTimer = setInterval(() => { if (Date.now() >= warnEnd) goStart(); else updateIdleWarning(); }, 1000);
    $("idleMore").focus();
    // In the accessible mode the seconds are said too (the shown text abbreviates them): a phrase the server
    // fills from 0-120 only. The standard mode stays silent: a hall of kiosks calling after citizens who left.
    if (state.a11y) say(["idle_title", phrase("idle_spoken", { s: Math.max(0, Math.ceil((warnEnd - Date.now()) / 1000)) }), "idle_more"]);
  }
  function updateIdleWarning() {
    $("idleText").textContent = t("idle_text", { s: Math.max(0, Math.ceil((warnEnd - Date.now()) / 1000)) });
  }
  function hideIdleWarning() {
    clearInterval(warnTimer); warnTimer = null;
    if ($("idleWarn").hidden) return;
    $("idleWarn").hidden = true;
    guardTaps();
    setInert();
    restoreFocus();
  }
  function activity(ev) {
    if (ev && !$("idleWarn").hidden && $("idleWarn").contains(ev.target)) return;   // its own buttons decide
    armIdle();
    if (state.screen === "ticket") startTicketCountdown();
  }
  document.addEventListener("pointerdown", activity, true);
  document.addEventListener("keydown", activity, true);

  // While a dialog is up, the page behind it can be neither read nor reached (aria-modal alone does not stop focus).
  function modalOpen() { return !$("modal").hidden || !$("idleWarn").hidden || !$("busy").hidden; }
  let inertOn = false, focusBefore = null;
  function setInert() {
    const on = modalOpen();
    // Given back when the last dialog closes (the busy overlay's inert page already dropped it to <body>).
    if (on && !inertOn && document.activeElement !== document.body) focusBefore = document.activeElement;
    inertOn = on;
    for (const id of ["main", "nav", "langs", "moreHint"]) $(id).inert = on;
  }
  function restoreFocus() {
    const node = focusBefore;
    if (modalOpen()) return;
    if (node && node.isConnected && node !== document.body && node.offsetParent !== null && !node.disabled) node.focus({ preventScroll: true });
    else focusScreen();
  }
  document.addEventListener("contextmenu", (e) => e.preventDefault());

  function setLang(lang, render) {
    if (!LANGS.includes(lang)) lang = "az";
    state.lang = lang;
    document.documentElement.lang = lang;
    if (render !== false) rerender();
  }

  // --- rendering ------------------------------------------------------------------------------
  function rerender() {
    for (const node of document.querySelectorAll("[data-t]")) node.textContent = t(node.dataset.t);
    for (const node of document.querySelectorAll("[data-t-alt]")) node.alt = t(node.dataset.tAlt);
    $("centerName").textContent = BOOT.center[state.lang] || BOOT.center.az;
    renderLangs();
    const r = { start: renderStart, areas: renderAreas, services: renderServices, search: renderSearch,
      info: renderInfo, priority: renderPriority, ticket: renderTicket }[state.screen];
    if (r) r();
    $("offline").textContent = t("offline_banner");
    updateMoreHint();
  }

  /** What scrolls on this screen: the search results have their own box, everything else scrolls in <main>. */
  function scroller() {
    const results = $("results");
    return state.screen === "search" && results.scrollHeight > results.clientHeight + 1 ? results : $("main");
  }
  let hintFrame = 0;
  function updateMoreHint() {
    cancelAnimationFrame(hintFrame);
    hintFrame = requestAnimationFrame(() => {
      const box = scroller(), hint = $("moreHint");
      const more = box.scrollHeight - box.clientHeight - box.scrollTop > 24;
      if (hint.hidden === more) hint.hidden = !more;
    });
  }

  function renderLangs() {
    const btn = (l, cls, label) => el("button", {
      type: "button", class: "btn lang " + cls + (l === state.lang ? " on" : ""), lang: l,
      "data-lang": l, "aria-pressed": l === state.lang ? "true" : "false", on: () => setLang(l),
      "data-say": "lang_name", "data-say-lang": l,
    }, label);
    fill($("langs"), LANGS.map((l) => btn(l, "small", I18N[l].lang_short)));
    fill($("langBig"), LANGS.map((l) => btn(l, "large", I18N[l].lang_name)));
  }

  /** What the start (and areas) screen says before anyone walks through it, as catalogue keys ("next" the next
      chance) and a kind: "closed" at night; "none" when issuing would refuse every service of this kiosk now (with
      the reason when they all share one); "few" when at least half are refused because the day is full (counter
      time, limits, quotas: not merely a counter that is not open yet). From GET /api/services only. */
  function dayNotice() {
    const d = state.data;
    if (!d) return null;
    if (!d.open) return { kind: "closed", keys: ["closed_now", "next"] };
    const svcs = d.services || [];
    if (!svcs.length) return null;
    const refused = svcs.filter((s) => !s.available);
    if (refused.length === svcs.length) {
      const why = new Set(refused.map((s) => (s.remaining <= 0 ? "full" : s.unavailable)));
      const only = why.size === 1 ? { closing: "day_none_closing", counters: "day_none_full", full: "day_none_full",
        unstaffed: "day_none_unstaffed" }[[...why][0]] : null;
      return { kind: "none", keys: ["day_none", only, "next"].filter(Boolean) };
    }
    const full = refused.filter((s) => s.remaining <= 0 || s.unavailable === "closing" || s.unavailable === "counters");
    if (full.length * 2 >= svcs.length) return { kind: "few", keys: ["day_few", "next"] };
    return null;
  }
  function noticeText(n) {
    const d = state.data;
    return n.keys.map((k) => (k !== "next" ? t(k).replace(/\.\s*$/, "")
      : d.next_opening ? t("next_opening", { when: when(d.next_opening) }) : null)).filter(Boolean).join(". ");
  }
  function noticeSaid(n) {
    if (!n) return [];
    const next = openingPhrase(state.data.next_opening);
    return n.keys.map((k) => (k === "next" ? next : k)).filter(Boolean);
  }
  function renderNotice(node) {
    const n = dayNotice();
    node.hidden = !n;
    node.dataset.kind = n ? n.kind : "";
    node.textContent = n ? noticeText(n) : "";
  }

  function renderStart() {
    $("startCenter").textContent = BOOT.center[state.lang] || BOOT.center.az;
    renderNotice($("closedNote"));
  }

  function servicesOf(area) { return state.data ? state.data.services.filter((s) => s.area === area) : []; }
  function areaByCode(code) { return state.data ? state.data.areas.find((a) => a.code === code) : null; }

  function renderAreas() {
    renderNotice($("closedNoteAreas"));
    if (!state.data) { fill($("areaList"), el("p", { class: "desc" }, t("err_unavailable"))); return; }
    fill($("areaList"), state.data.areas.map((a) => {
      const svcs = servicesOf(a.code);
      const waiting = svcs.reduce((n, s) => n + (s.waiting || 0), 0);
      const letters = [...new Set(svcs.map((s) => s.letter))].join(" ");
      const anyOpen = svcs.some((s) => s.available);
      return el("button", { type: "button", class: "card area" + (anyOpen ? "" : " dim"), "data-area": a.code,
        "data-say": "area:" + a.code,
        on: () => { state.area = a.code; go("services"); } },
        el("span", { class: "card-top" }, el("span", { class: "letter" }, letters),
          el("span", { class: "meta" }, t("services_count", { n: svcs.length }))),
        el("span", { class: "name" }, nm(a.name)),
        el("span", { class: "meta" }, t("area_waiting", { n: waiting })));
    }));
  }

  /** Why a service cannot be taken now, as catalogue keys: the reason, then the next chance when there is one. */
  function unavailableKeys(s) {
    const d = state.data;
    if (!d) return ["err_unavailable"];
    if (!d.open) return ["closed_now", "next"];
    if (s.remaining <= 0) return ["full_today", "next"];
    // Counter time: why issuing would refuse this service now, and the next chance.
    const why = { closing: "err_closing", counters: "err_counters_full", unstaffed: "err_unstaffed" }[s.unavailable];
    return why ? [why, "next"] : ["not_available"];
  }
  /** The refusal as shown: one sentence and the next chance ("next" is dropped when the server knows none). */
  function unavailableReason(s) {
    const d = state.data;
    return unavailableKeys(s).map((k) => k !== "next" ? t(k).replace(/\.\s*$/, "")   // one full stop, not two
      : d && d.next_opening ? t("next_opening", { when: when(d.next_opening) }) : null).filter(Boolean).join(". ");
  }
  /** The refusal as the accessible mode says it: the same keys, the next chance as a phrase the server fills. */
  function unavailableSaid(s) {
    const d = state.data;
    return unavailableKeys(s).map((k) => (k === "next" ? openingPhrase(d && d.next_opening) : k)).filter(Boolean);
  }

  /** A service's wait chip: the forecast for a new ticket; null when only a counter that has not opened yet serves
      it (no figure: it would move on with the clock), 0 when a counter is free now. */
  function waitChip(s) {
    return s.wait_minutes === null ? t("wait_no_counter") : s.wait_minutes > 0 ? t("wait", { m: s.wait_minutes })
      : t("wait_none");
  }
  function serviceCard(s, withArea) {
    const area = areaByCode(s.area);
    const facts = el("span", { class: "facts" },
      el("span", { class: "chip" }, t("remaining", { n: s.remaining })),
      el("span", { class: "chip" }, t("waiting", { n: s.waiting })),
      el("span", { class: "chip" }, waitChip(s)));
    // A refused service stays reachable (aria-disabled, not disabled): a tap or the keyboard's focus on it says,
    // in the accessible mode, its name, why it cannot be taken and the next chance; it opens nothing.
    return el("button", {
      type: "button", class: "card service" + (s.available ? "" : " disabled"), "data-service": s.code,
      "data-say": "svc:" + s.code, "data-say-all": s.available ? null : ["svc:" + s.code, ...unavailableSaid(s)].join("|"),
      "aria-disabled": s.available ? "false" : "true",
      on: () => { if (s.available) { state.service = s; go("info"); } },
    },
      withArea && area ? el("span", { class: "area-label" }, s.letter + " · " + nm(area.name)) : null,
      el("span", { class: "name" }, nm(s.name)),
      s.available ? facts : el("span", { class: "reason" }, unavailableReason(s)));
  }

  function renderServices() {
    const area = areaByCode(state.area);
    $("areaTitle").textContent = area ? nm(area.name) : "";
    fill($("serviceList"), servicesOf(state.area).map((s) => serviceCard(s, false)));
  }

  // --- search with the on-screen keyboard ---------------------------------------------------
  const KEYS = {
    latin: ["ABCÇDEƏFG", "ĞHXIİJKQL", "MNOÖPRSŞT", "UÜVYZW"],
    cyrillic: ["АБВГДЕЁЖЗ", "ИЙКЛМНОПР", "СТУФХЦЧШЩ", "ЪЫЬЭЮЯ"],
  };
  // Case folding per language: Azerbaijani has İ→i and I→ı; English and Russian do not.
  const fold = (s, lang) => s.toLocaleLowerCase(lang === "az" ? "az" : lang).normalize("NFC").replace(/ё/g, "е");
  function matches(s, q) {
    const name = s.name || {};
    const qa = fold(q, "az");
    const hay = [[name.az, "az", qa], [name.ru, "ru", qa], [name.en, "en", qa.replace(/ı/g, "i")]];
    const area = areaByCode(s.area);
    if (area) hay.push([area.name.az, "az", qa], [area.name.ru, "ru", qa], [area.name.en, "en", qa.replace(/ı/g, "i")]);
    let best = -1;
    hay.forEach(([text, lang, needle], i) => {
      if (!text) return;
      const pos = fold(text, lang).indexOf(needle);
      if (pos < 0) return;
      // A match in a service name beats one in its area's name; a word start beats the middle.
      const score = (i < 3 ? 10 : 0) + (pos === 0 ? 5 : /[\s(«"-]/.test(fold(text, lang)[pos - 1]) ? 3 : 0);
      best = Math.max(best, score);
    });
    return best;
  }
  function searchResults() {
    const q = state.query.trim();
    if (!q || !state.data) return [];
    return state.data.services.map((s) => [matches(s, q), s]).filter(([score]) => score >= 0)
      .sort((a, b) => b[0] - a[0]).map(([, s]) => s);
  }
  function renderSearch() {
    $("queryText").textContent = state.query;
    $("query").dataset.empty = state.query ? "" : "1";
    $("query").dataset.placeholder = t("search_placeholder");
    const found = searchResults();
    $("searchCount").textContent = state.query.trim() ? (found.length ? t("search_count", { n: found.length }) : t("search_none")) : "";
    fill($("results"), found.slice(0, 40).map((s) => serviceCard(s, true)));
    renderKeyboard();
    updateMoreHint();
  }
  function typeKey(ch) {
    if (state.query.length < 40) state.query += ch;
    renderSearch();
  }
  function renderKeyboard() {
    const rows = KEYS[state.keyboard].map((row) => el("div", { class: "krow" },
      [...row].map((ch) => el("button", { type: "button", class: "key", "data-key": ch, on: () => typeKey(ch) }, ch))));
    const other = state.keyboard === "latin" ? "cyrillic" : "latin";
    rows.push(el("div", { class: "krow special" },
      el("button", { type: "button", class: "key wide alt", "data-key": "layout",
        on: () => { state.keyboard = other; renderKeyboard(); } }, t(other === "latin" ? "key_latin" : "key_cyrillic")),
      el("button", { type: "button", class: "key space", "data-key": "space", on: () => typeKey(" ") }, t("key_space")),
      el("button", { type: "button", class: "key bksp", "data-key": "backspace", "aria-label": t("key_backspace"),
        on: () => { state.query = state.query.slice(0, -1); renderSearch(); } }, "⌫"),
      el("button", { type: "button", class: "key wide alt", "data-key": "clear",
        on: () => { state.query = ""; renderSearch(); } }, t("key_clear"))));
    fill($("keyboard"), rows);
  }

  // --- a service's information, the priority question, the ticket --------------------------
  function renderInfo() {
    const s = state.service;
    if (!s) return;
    const area = areaByCode(s.area);
    $("infoArea").textContent = area ? s.letter + " · " + nm(area.name) : "";
    $("infoName").textContent = nm(s.name);
    $("infoDesc").textContent = nm(s.description);
    $("infoDesc").hidden = !nm(s.description);
    $("infoDocsBox").hidden = !(s.documents && s.documents.length);
    fill($("infoDocs"), (s.documents || []).map((d) => el("li", {}, nm(d))));
    fill($("infoFacts"),
      el("span", { class: "chip" }, t("remaining", { n: s.remaining })),
      el("span", { class: "chip" }, t("waiting", { n: s.waiting })),
      el("span", { class: "chip" }, waitChip(s)));
    $("infoUnavailable").hidden = !!s.available;
    $("infoUnavailable").textContent = s.available ? "" : unavailableReason(s);
    // Reachable when refused too (see serviceCard): the accessible mode says why.
    $("takeBtn").setAttribute("aria-disabled", s.available ? "false" : "true");
    if (s.available) delete $("takeBtn").dataset.sayAll;
    else $("takeBtn").dataset.sayAll = ["take", ...unavailableSaid(s)].join("|");
  }

  /** The priority group everyone served in this service's area belongs to (e.g. the şəhid families' and
   *  qazi desk), when the service honours it: the kiosk does not ask about it, the ticket carries it. */
  function areaGroup(s) {
    const a = s && areaByCode(s.area);
    const g = a && a.priority_group;
    return g && (s.priority_groups || []).includes(g) ? g : null;
  }
  function groupsFor(s) {
    if (!state.data || !s) return [];
    const own = areaGroup(s);
    const rank = (code) => { const g = state.data.priority_groups.find((x) => x.code === code); return g ? g.rank : 99; };
    // Inside such an area only a group that would go before it is worth asking about.
    return state.data.priority_groups.filter((g) => (s.priority_groups || []).includes(g.code) &&
      (!own || (g.code !== own && g.rank < rank(own))));
  }
  function renderPriority() {
    fill($("groupList"), groupsFor(state.service).map((g) => el("button", {
      type: "button", class: "btn group big", "data-group": g.code, on: () => issue(g.code),
      "data-say": "group:" + g.code,
    }, nm(g.name))));
  }

  let issuedIn = -1;
  async function issue(priority) {
    const s = state.service;
    // One request per view: a second tap (or a click that got past the shield) on the same screen asks for nothing.
    if (!s || state.busy || issuedIn === viewSeq) return;
    issuedIn = viewSeq;
    state.busy = true;
    $("busy").hidden = false;
    setInert();
    let r = null, body = null;
    try {
      r = await fetch("/api/tickets", {
        method: "POST", cache: "no-store", signal: timeout(10000),
        headers: Object.assign({ "Content-Type": "application/json" }, authHeaders()),
        body: JSON.stringify(Object.assign({ service: s.code, lang: state.lang, priority: priority || null },
          state.a11y ? { large_print: true } : {})),
      });
      try { body = await r.json(); } catch (e) { body = null; }
    } catch (e) {
      r = null;
    } finally {
      state.busy = false;
      $("busy").hidden = true;
      setInert();
    }
    if (r && r.status === 201 && body && body.ok) {
      state.ticket = Object.assign({}, body, { area: s.area, priorityGroup: priority || null, printFailed: body.printing === false });
      state.stack = [];
      show("ticket", false);
      startTicketCountdown();
      // After the number the screen's title says: people ahead and the wait, then the print line and the countdown.
      if (state.a11y) for (const id of [...boxesSaid(), ...ticketSaid()]) sayAfter(id);
      requestRefresh();
      return;
    }
    if (!r) { setOnline(false, "http"); fetchServices(); return modal("err_unavailable_title", "err_unavailable"); }
    const code = body && body.error;
    if (r.status === 401) return showSetup(true);
    if (code === "capacity_reached") {
      const text = body.scope === "center" ? "err_center_full" : body.scope === "closing" ? "err_closing"
        : body.scope === "counters" ? "err_counters_full" : body.scope === "unstaffed" ? "err_unstaffed" : "err_full";
      fetchServices();
      return modal("err_full_title", text, body.next_opening ? t("next_opening", { when: when(body.next_opening) }) : "", "capacity",
                   openingPhrase(body.next_opening));
    }
    if (code === "center_closed") {
      fetchServices();
      return modal("err_closed_title", "err_closed", body.next_opening ? t("next_opening", { when: when(body.next_opening) }) : "", "closed",
                   openingPhrase(body.next_opening));
    }
    if (r.status === 429) return modal("err_rate_title", "err_rate", "", "rate");
    // The server is up but cannot save (disk full, read-only, database unavailable): try again / ask staff.
    if (r.status === 503 && /^storage_/.test(code || "")) return modal("err_storage_title", "err_storage", "", "storage");
    if (r.status >= 500 || r.status === 0) return modal("err_unavailable_title", "err_unavailable", "", "unavailable");
    return modal("err_generic_title", "err_generic", "", "generic");
  }

  function renderTicket() {
    const k = state.ticket;
    if (!k) return;
    const area = areaByCode(k.area);
    const svc = state.data && state.data.services.find((s) => s.code === k.service);
    $("ticketNumber").textContent = k.number;
    $("ticketService").textContent = svc ? nm(svc.name) : k.service_name;
    $("ticketArea").textContent = [area ? nm(area.name) : "", hallName(area)].filter(Boolean).join(" · ");
    const [ahead, eta] = ticketBoxes(k);
    $("ticketAhead").textContent = t(ahead[0], ahead[1]);
    $("ticketEta").textContent = t(eta[0], eta[1]);
    const group = k.priorityGroup && state.data ? state.data.priority_groups.find((g) => g.code === k.priorityGroup) : null;
    $("ticketPriority").hidden = !group;
    $("ticketPriority").textContent = group ? t("priority_mark", { group: nm(group.name) }) : "";
    const ps = $("printState");
    // printing; delayed (the spool retries: keep the number); staff (given up); failed (no printer answer at issue).
    const print = k.print || (k.printFailed ? "failed" : "printing");
    ps.className = "print-state" + (print === "printing" ? "" : print === "delayed" ? " delayed" : " fault");
    ps.dataset.state = print;
    // A live region: refilled only when its words change (a live refresh would otherwise have it said again).
    const words = [k.number, print, state.lang].join("|");
    if (ps.dataset.said === words) { /* the same words, for the same ticket */ }
    else if (print === "delayed") fill(ps, el("strong", {}, t("print_delayed_title")), el("span", {}, t("print_delayed")));
    else if (print === "staff") fill(ps, el("strong", {}, t("print_staff_title")), el("span", {}, t("print_staff")));
    else if (print === "failed") fill(ps, el("strong", {}, t("print_failed_title")), el("span", {}, t("print_failed")));
    else fill(ps, el("span", {}, t("take_paper")));
    ps.dataset.said = words;
    const qr = "/kiosk/qr.svg?data=" + encodeURIComponent(k.status_url);
    if ($("ticketQr").getAttribute("src") !== qr) $("ticketQr").setAttribute("src", qr);
    updateCountdown();
  }

  /** The ticket's two boxes under the number as [catalogue key, values]: people ahead, and the wait (the forecast's
      range when it is wider than a minute; "soon" only when a counter is free now; "waiting for a counter to open"
      when eta_minutes is null: only an unopened counter serves it, so no time is known). Shown and, in the
      accessible mode, said (boxesSaid): one choice for both, so the screen and the voice say the same. */
  function ticketBoxes(k) {
    return [k.ahead > 0 ? ["ahead", { n: k.ahead }] : ["ahead_none"],
      k.eta_minutes === null ? ["eta_no_counter"]
        : k.eta_high > k.eta_low + 1 ? ["eta_range", { a: k.eta_low, b: k.eta_high }]
        : k.eta_minutes > 0 ? ["eta", { m: k.eta_minutes }] : ["eta_now"]];
  }
  /** The boxes as phrases: the shown texts abbreviate (чел., мин), so a filled box is said by its _spoken twin,
      the numbers filled by the server from checked bounds. */
  function boxesSaid() {
    return state.ticket ? ticketBoxes(state.ticket).map(([key, vars]) => (vars ? phrase(key + "_spoken", vars) : key)) : [];
  }
  let countdownEnd = 0, countdownTimer = null;
  function ticketSeconds() {
    // A ticket that did not print stays up much longer: the citizen may need to copy or photograph it.
    const base = IDLE_MS / 1000;
    return state.ticket && state.ticket.printFailed ? Math.max(base * 4, 120) : base;
  }
  function startTicketCountdown() {
    stopTicketCountdown();
    countdownEnd = Date.now() + ticketSeconds() * 1000;
    countdownTimer = setInterval(() => { if (Date.now() >= countdownEnd) goStart(); else updateCountdown(); }, 1000);
    updateCountdown();
  }
  function stopTicketCountdown() { clearInterval(countdownTimer); countdownTimer = null; }
  /** What the accessible mode says on the ticket screen after the number: what the print line shows, then when the
      screen returns to the start (the countdown the standard mode shows, as idle_spoken: closing_in abbreviates). */
  function ticketSaid() {
    const said = { printing: ["take_paper"], delayed: ["print_delayed_title", "print_delayed"],
      staff: ["print_staff_title", "print_staff"], failed: ["print_failed_title", "print_failed"] }[$("printState").dataset.state] || [];
    return [...said, phrase("idle_spoken", { s: Math.max(0, Math.ceil((countdownEnd - Date.now()) / 1000)) })];
  }
  function updateCountdown() {
    const left = Math.max(0, Math.ceil((countdownEnd - Date.now()) / 1000));
    $("countdown").textContent = countdownTimer ? t("closing_in", { s: left }) : "";
  }

  // --- messages --------------------------------------------------------------------------------
  let modalAfter = null;
  /** A message by its catalogue keys (title and text), with an optional line already in words (and that line
      as a phrase the accessible mode can have spoken, when there is one). */
  function modal(title, text, more, kind, moreSaid) {
    $("modalTitle").textContent = t(title);
    $("modalText").textContent = t(text);
    $("modalMore").textContent = more || "";
    $("modalMore").hidden = !more;
    $("modal").dataset.kind = kind || "";
    $("modal").hidden = false;
    guardTaps();
    setInert();
    $("modalOk").focus();
    // The accessible mode reads the whole message, then its button (the focus alone would read only "OK").
    if (state.a11y) say([title, text, more ? moreSaid : null, $("modalOk").dataset.say]);
    modalAfter = kind === "capacity" || kind === "closed" ? () => { if (state.screen === "priority") back(); } : null;
  }
  function closeModal() {
    if ($("modal").hidden) return;
    $("modal").hidden = true;
    guardTaps();
    setInert();
    const after = modalAfter; modalAfter = null;
    if (after) after();
    else restoreFocus();
  }

  // --- the accessible mode: high contrast, large text, spoken guidance ------------------------
  // Phrases come from /kiosk/speak by id (the kiosk's catalogue and the center's names only; the idle seconds, the
  // next opening, people ahead and the wait filled by the server from checked values), spoken by the server's espeak-ng voices through
  // this kiosk's speaker; each file is fetched once per language.
  const player = new Audio();
  const sounds = new Map();
  let sayQueue = [];
  function titleId() {
    const k = state.ticket;
    return { start: "welcome", areas: "areas_title", services: state.area ? "area:" + state.area : "services_title",
      search: "search_title", info: state.service ? "svc:" + state.service.code : null, priority: "priority_title",
      ticket: k ? "number:" + k.number : null }[state.screen] || null;
  }
  /** A phrase with placeholders, filled by the server from a checked set only (seconds, a day key, an opening time,
      people ahead, minutes). */
  function phrase(id, fills) { return id + "?" + new URLSearchParams(fills).toString(); }
  /** The next opening ("2026-11-25T09:00:00+04:00", center time) as a phrase: today, tomorrow or a weekday, and its time. */
  function openingPhrase(iso) {
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(iso || "");
    if (!m) return null;
    const d1 = Date.UTC(+m[1], +m[2] - 1, +m[3]);
    let day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][(new Date(d1).getUTCDay() + 6) % 7];
    const today = state.data && state.data.day;
    if (today) {
      const d0 = Date.UTC(+today.slice(0, 4), +today.slice(5, 7) - 1, +today.slice(8, 10));
      if (d1 === d0) day = "today";
      else if (d1 - d0 === 86400000) day = "tomorrow";
    }
    return phrase("next_opening", { day, time: m[4] + ":" + m[5] });
  }
  function sound(id, lang) {
    const key = lang + "|" + id;
    if (!sounds.has(key)) {
      const [text, fills] = id.split("?");
      const url = "/kiosk/speak?text=" + encodeURIComponent(text) + (fills ? "&" + fills : "") + "&lang=" + lang;
      sounds.set(key, fetch(url, { headers: authHeaders(), signal: timeout(8000) })
        .then((r) => { if (!r.ok) throw new Error("HTTP " + r.status); return r.blob(); })
        .then((b) => URL.createObjectURL(b))
        .catch(() => { sounds.delete(key); return null; }));
    }
    return sounds.get(key);
  }
  /** Speak these phrases now, cutting short whatever was being said. */
  let speaking = false, sayGen = 0;
  function say(ids, lang) {
    sayGen++;
    sayQueue = ids.filter(Boolean).map((id) => [id, lang || state.lang]);
    player.pause();
    speaking = false;
    playNext();
  }
  /** Speak a phrase after what is being said (a new screen's title after the tapped button). */
  function sayAfter(id) {
    if (!id) return;
    sayQueue.push([id, state.lang]);
    if (!speaking) playNext();
  }
  async function playNext() {
    const gen = sayGen;
    const next = sayQueue.shift();
    if (!next) { speaking = false; return; }
    speaking = true;
    const url = await sound(next[0], next[1]);
    if (gen !== sayGen) return;   // something newer took the speaker
    if (!url) { playNext(); return; }
    player.src = url;
    player.play().catch(() => { if (gen === sayGen) playNext(); });   // no speaker: the screen still works
  }
  player.addEventListener("ended", () => playNext());
  function sayNode(node) {
    const b = node && node.closest ? node.closest("[data-say]") : null;
    // data-say-all: several phrases ("|" never occurs in a phrase id), e.g. a refused service and why.
    if (b) say(b.dataset.sayAll ? b.dataset.sayAll.split("|") : [b.dataset.say], b.dataset.sayLang);
  }
  function setA11y(on) {
    state.a11y = !!on;
    document.body.classList.toggle("a11y", state.a11y);
    $("a11yBtn").setAttribute("aria-pressed", state.a11y ? "true" : "false");
    $("a11yBtn").dataset.say = state.a11y ? "a11y_off" : "a11y_on";
    $("a11yLabel").dataset.t = state.a11y ? "a11y_off" : "a11y_on";
    $("a11yLabel").textContent = t($("a11yLabel").dataset.t);
    if (!state.a11y) { sayGen++; sayQueue = []; speaking = false; player.pause(); }
    updateMoreHint();
  }
  // A tap reads the button, then the screen it leads to; the keyboard's focus reads the focused button.
  let pointerAt = 0;
  document.addEventListener("pointerdown", (e) => {
    pointerAt = Date.now();
    // The mode is offered aloud to whoever touches the start screen outside its buttons.
    if (!state.a11y && state.screen === "start" && !e.target.closest("button, #tapShield")) say(["a11y_offer"]);
  }, true);
  document.addEventListener("click", (e) => {
    const b = e.target.closest ? e.target.closest("[data-say]") : null;
    if (b && (state.a11y || b.id === "a11yBtn")) sayNode(b);
  }, true);
  document.addEventListener("focusin", (e) => {
    if (Date.now() - pointerAt < 800) return;   // the tap itself reads it
    const b = e.target.closest ? e.target.closest("[data-say]") : null;
    if (b && (state.a11y || b.id === "a11yBtn")) sayNode(b);
  });
  $("a11yBtn").addEventListener("click", () => {
    setA11y(!state.a11y);
    if (state.a11y) say(["a11y_started", "welcome", ...noticeSaid(dayNotice())]);   // and why no ticket, if so
  });

  // --- wiring -------------------------------------------------------------------------------
  $("startBtn").addEventListener("click", () => go("areas"));
  $("backBtn").addEventListener("click", back);
  $("homeBtn").addEventListener("click", goStart);
  $("searchBtn").addEventListener("click", () => { state.query = ""; go("search"); });
  $("takeBtn").addEventListener("click", () => {
    if (!state.service || !state.service.available) return;
    if (groupsFor(state.service).length) go("priority"); else issue(areaGroup(state.service));
  });
  $("priorityNo").addEventListener("click", () => issue(areaGroup(state.service)));
  $("doneBtn").addEventListener("click", goStart);
  $("modalOk").addEventListener("click", closeModal);
  $("idleMore").addEventListener("click", armIdle);
  $("idleRestart").addEventListener("click", goStart);
  // The "more below" strip under the screen: shown while it (or the search results) has more below the fold.
  $("moreHint").addEventListener("click", () => {
    const box = scroller();
    box.scrollBy({ top: Math.round(box.clientHeight * 0.7), behavior: "smooth" });
  });
  $("main").addEventListener("scroll", updateMoreHint, { passive: true });
  $("results").addEventListener("scroll", updateMoreHint, { passive: true });
  window.addEventListener("resize", updateMoreHint);
  if (window.ResizeObserver) {   // late fonts, images and live updates change what fits
    const ro = new ResizeObserver(updateMoreHint);
    for (const node of document.querySelectorAll("#main, #main > .screen, #results")) ro.observe(node);
  }

  if (!TOKEN) {
    setLang("az", false);
    showSetup(false);
    return;
  }
  try { const cached = JSON.parse(localStorage.getItem(CACHE_KEY) || "null"); if (cached) state.data = cached; } catch (e) { /* ignore */ }
  goStart();
  fetchServices();
  connectSocket();
})();
