/* A counter's rating screen (/rate/?counter=N&token=r_…): asks the citizen the moment their visit at
   counter N ends, thanks them, and goes back to waiting. Live over Socket.IO (/rate). */
(function () {
  "use strict";
  var BOOT = JSON.parse(document.getElementById("rate-boot").textContent);
  var params = new URLSearchParams(location.search);
  var COUNTER = Number(params.get("counter")), TOKEN = params.get("token") || "";
  var LANG_KEY = "novbe.rate.lang";
  var lang = ["az", "ru", "en"].indexOf(localStorage.getItem(LANG_KEY)) >= 0 ? localStorage.getItem(LANG_KEY) : "az";
  var T = function () { return window.NOVBE_RATING_TEXTS[lang] || window.NOVBE_RATING_TEXTS.az; };
  var $ = function (id) { return document.getElementById(id); };
  var question = null, reasons = [], view = "idle", timer = null, busy = false, score = 0;

  function f(s, vars) { return String(s).replace(/\{(\w+)\}/g, function (m, k) { return vars[k] != null ? vars[k] : m; }); }
  function name(n) { return (n && (n[lang] || n.az)) || ""; }

  function show(which) {
    view = which;
    ["idle", "ask", "why", "thanks"].forEach(function (v) { $(v).hidden = v !== which; });
    $("err").hidden = true;
    render();
  }

  function render() {
    var t = T();
    document.documentElement.lang = lang;
    document.querySelectorAll(".langs button").forEach(function (b) { b.classList.toggle("on", b.dataset.lang === lang); });
    $("where").textContent = f(t.counter, { n: COUNTER || "?" }) + " · " + name(BOOT.center);
    $("idle-text").textContent = COUNTER && TOKEN ? t.idle : t.no_token;
    $("conn").textContent = t.offline;
    $("ask-q").textContent = t.question;
    $("anon").textContent = t.anonymous;
    $("why-q").textContent = t.why;
    $("skip").textContent = t.skip;
    $("err").textContent = t.failed;
    if (question) $("ask-ticket").textContent = f(t.ticket, { number: question.number }) + " · " + name(question.service_name);
    // Redrawn on every language change: the focused face or reason keeps the focus.
    var had = document.activeElement, hadScore = had && had.dataset ? had.dataset.score : null,
      hadReason = had && had.dataset ? had.dataset.reason : null;
    var faces = $("faces");
    faces.textContent = "";
    for (var s = 1; s <= 5; s++) faces.appendChild(faceButton(s, t));
    var box = $("reasons");
    box.textContent = "";
    reasons.forEach(function (r) {
      var b = document.createElement("button");
      b.type = "button"; b.className = "reason"; b.dataset.reason = r.code;
      b.textContent = name(r.name);
      b.addEventListener("click", function () { send(score, r.code); });
      box.appendChild(b);
    });
    var again = hadScore ? faces.querySelector('[data-score="' + hadScore + '"]')
      : hadReason ? box.querySelector('[data-reason="' + hadReason + '"]') : null;
    if (again) again.focus();
  }

  /** Each view gives the keyboard (and a screen reader) a place to start: its question, or the thanks.
   *  Not a face or a reason: one drawn focused would look chosen to the next citizen. */
  function focusView(which) {
    var target = { ask: "ask-q", why: "why-q", thanks: "thanks-text" }[which];
    if (target) $(target).focus({ preventScroll: true });
  }

  /** Say ``text`` politely (the polite live region #say): emptied first, so the same words said again are heard again. */
  function say(text) {
    var box = $("say");
    box.textContent = "";
    setTimeout(function () { box.textContent = text; }, 100);
  }

  function faceButton(s, t) {
    var b = document.createElement("button");
    b.type = "button"; b.className = "face-btn"; b.dataset.score = String(s);
    b.setAttribute("aria-label", s + " — " + t.scores[s - 1]);
    b.appendChild(window.NOVBE_FACE(s));
    var l = document.createElement("span");
    l.className = "lbl"; l.textContent = t.scores[s - 1];
    b.appendChild(l);
    b.addEventListener("click", function () { choose(s); });
    // The arrow keys go along the faces too (moving chooses nothing: Enter or a tap does).
    b.addEventListener("keydown", function (ev) {
      var step = ev.key === "ArrowRight" || ev.key === "ArrowDown" ? 1 : ev.key === "ArrowLeft" || ev.key === "ArrowUp" ? -1 : 0;
      var next = step && $("faces").querySelector('[data-score="' + (s + step) + '"]');
      if (step) ev.preventDefault();
      if (next) next.focus();
    });
    return b;
  }

  function choose(s) {
    if (busy || !question) return;
    score = s;
    if (s <= 3 && reasons.length) { show("why"); focusView("why"); }
    else send(s, null);
  }

  function send(s, reason) {
    if (busy || !question) return;
    busy = true;
    var body = { score: s, ticket: question.ticket };
    if (reason) body.reason = reason;
    fetch("/api/rate/" + COUNTER, { method: "POST", cache: "no-store",
      headers: { "Content-Type": "application/json", Authorization: "Bearer " + TOKEN }, body: JSON.stringify(body) })
      .then(function (r) { return r.json().then(function (d) { return [r.status, d]; }); })
      .then(function (res) {
        busy = false;
        if (res[0] === 201 || (res[1] && res[1].error === "already_rated")) { thank(); return; }
        if (res[1] && res[1].error === "nothing_to_rate") { question = null; show("idle"); return; }
        throw new Error("HTTP " + res[0]);
      })
      .catch(function () { busy = false; $("err").hidden = false; });
  }

  function thank() {
    question = null;
    $("thanks-text").textContent = T().thanks;
    show("thanks");
    focusView("thanks");
    say(T().thanks);
    clearTimeout(timer);
    timer = setTimeout(function () { if (view === "thanks") show("idle"); }, 6000);
  }

  function ask(q) {
    if (!q) { if (view === "ask" || view === "why") { question = null; show("idle"); } return; }
    question = q;
    score = 0;
    show("ask");
    focusView("ask");
    say($("ask-ticket").textContent + ". " + T().question);
    // Stop asking when the center's time for it is over (the server refuses after that anyway).
    clearTimeout(timer);
    var left = (q.until - Date.now() / 1000) * 1000;
    timer = setTimeout(function () { if (question === q) { question = null; show("idle"); } }, Math.max(5000, Math.min(left, 900000)));
  }

  document.querySelectorAll(".langs button").forEach(function (b) {
    b.addEventListener("click", function () { lang = b.dataset.lang; localStorage.setItem(LANG_KEY, lang); render(); });
  });
  $("skip").addEventListener("click", function () { send(score, null); });
  // A USB number pad works too: keys 1-5 rate, as the faces do.
  document.addEventListener("keydown", function (ev) {
    var n = Number(ev.key);
    if (view === "ask" && n >= 1 && n <= 5) { ev.preventDefault(); choose(n); }
  });

  // The reasons are a group named by their question; the questions and the thanks take the focus (nothing to press).
  $("reasons").setAttribute("role", "group");
  $("reasons").setAttribute("aria-labelledby", "why-q");
  ["ask-q", "why-q", "thanks-text"].forEach(function (id) { $(id).tabIndex = -1; });
  show("idle");
  if (!COUNTER || !TOKEN) return;
  fetch("/api/rate/" + COUNTER, { headers: { Authorization: "Bearer " + TOKEN }, cache: "no-store" })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (d) { if (d && d.ok) { reasons = d.reasons || []; render(); } })
    .catch(function () {});
  var socket = io("/rate", { auth: { token: TOKEN, counter: COUNTER }, reconnectionDelayMax: 5000 });
  socket.on("connect", function () { $("conn").classList.add("hide"); });
  socket.on("disconnect", function () { $("conn").classList.remove("hide"); });
  socket.on("connect_error", function () { $("conn").classList.remove("hide"); });
  socket.on("ask", function (m) { ask(m && m.question); });
  socket.on("rated", function (m) { if (question && m && m.ticket === question.ticket) thank(); });
})();
