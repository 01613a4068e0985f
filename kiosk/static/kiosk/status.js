/* The citizen's status page (/t/<token>): the ticket's state, live over Socket.IO (/status). */
(function () {
  "use strict";
  // Server data comes in a JSON block (not executed, so the page's CSP allows it).
  var BOOT = JSON.parse(document.getElementById("status-boot").textContent);
  var T = BOOT.t, TOKEN = BOOT.token, LANG = BOOT.lang, data = BOOT.data;
  var $ = function (id) { return document.getElementById(id); };
  function f(key, vars) { return String(T[key] || key).replace(/\{(\w+)\}/g, function (m, k) { return vars && vars[k] != null ? vars[k] : m; }); }
  var FINAL = { done: 1, no_show: 1, cancelled: 1, expired: 1 };
  var wasCalled = data.status === "called";

  function render() {
    var st = data.status, box = $("state");
    $("number").textContent = data.number;
    $("service").textContent = (data.service_name && (data.service_name[LANG] || data.service_name.az)) || data.service;
    box.className = "state";
    box.dataset.status = st;
    if (st === "called") {
      box.className = "state called";
      box.textContent = "";
      box.appendChild(document.createTextNode(T.st_called));
      var big = document.createElement("span");
      big.className = "big";
      big.id = "goCounter";
      big.textContent = f("st_go_counter", { counter: data.counter });
      box.appendChild(big);
    } else if (st === "serving") {
      box.className = "state serving"; box.textContent = f("st_serving", { counter: data.counter });
    } else if (st === "parked") {
      box.textContent = T.st_parked;
    } else if (FINAL[st]) {
      // A final state: its own message, and nothing more will change (no "reconnecting…").
      box.className = "state over " + st;
      box.textContent = "";
      box.appendChild(document.createTextNode(T["st_" + st]));
      if (st === "no_show" || st === "cancelled") {
        var next = document.createElement("span");
        next.className = "next";
        next.textContent = T.st_new_ticket;
        box.appendChild(next);
      }
    } else {
      box.textContent = T.st_waiting;
    }
    var waiting = st === "waiting";
    $("facts").hidden = !waiting;
    $("ahead").textContent = data.ahead > 0 ? f(data.ahead === 1 ? "st_people_one" : "st_people", { n: data.ahead }) : T.st_nobody;
    var noFigure = data.eta_minutes === null || data.eta_minutes === undefined;
    $("eta").classList.toggle("words", noFigure);
    $("eta").textContent = noFigure ? (data.eta_reason === "no_counter_today" ? T.st_no_counter_today : T.st_no_counter)
      : data.eta_high > data.eta_low + 1 ? f("st_minutes_range", { a: data.eta_low, b: data.eta_high })
      : data.eta_minutes > 0 ? f("st_minutes", { m: data.eta_minutes }) : T.st_soon;
    $("issued").textContent = data.issued_at ? f("st_issued", { time: String(data.issued_at).slice(11, 16) }) : "";
    $("cancelBox").hidden = !(waiting || st === "parked");
    document.title = (st === "called" ? "🔔 " + f("st_go_counter", { counter: data.counter }) + " — " : "") + data.number + " — " + T.st_title;
    if (st === "called" && !wasCalled && navigator.vibrate) { try { navigator.vibrate([400, 150, 400]); } catch (e) {} }
    wasCalled = st === "called";
    if (FINAL[st]) live(false);
  }

  // Refetch the ticket's position: at once for our own updates, at most every 1.5 s for the hall's.
  var timer = null, inflight = false, pending = false, delay = 1000;
  function refetch() {
    if (inflight) { pending = true; return; }
    inflight = true;
    fetch("/api/status/" + encodeURIComponent(TOKEN), { cache: "no-store" }).then(function (r) {
      if (r.status === 404) { location.reload(); return null; }
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    }).then(function (d) {
      if (d && d.ok) { data = d; render(); delay = 1000; if (FINAL[d.status] && socket) socket.disconnect(); }
    }).catch(function () {
      setTimeout(refetch, delay); delay = Math.min(delay * 2, 30000);
    }).then(function () {
      inflight = false;
      if (pending) { pending = false; refetch(); }
    });
  }
  function soon() { if (!timer) timer = setTimeout(function () { timer = null; refetch(); }, 1500); }

  var socket = null;
  function live(on) {
    var final = !!FINAL[data.status];
    $("live").className = "live" + (final ? " final" : on ? "" : " off");
    $("live").textContent = final ? T.st_final : on ? T.st_live : T.st_offline;
  }
  function connect() {
    if (typeof io !== "function" || FINAL[data.status]) return;
    socket = io("/status", { auth: { token: TOKEN }, reconnectionDelayMax: 10000 });
    socket.on("connect", function () { live(true); refetch(); });   // a reconnect may have missed events
    socket.on("disconnect", function () { live(false); });
    socket.on("connect_error", function () { live(false); if (!socket.active) refetch(); });
    socket.on("ticket-update", function (ev) {
      if (ev && ev.event === "ticket-called" && ev.counter) { data.status = "called"; data.counter = ev.counter; render(); }
      refetch();
    });
    socket.onAny(function (name) { if (name !== "ticket-update") soon(); });
  }

  // The button pressed hides: the focus goes to the question (read out at once), and back on "no".
  $("cancel").addEventListener("click", function () { $("confirm").hidden = false; $("cancel").hidden = true; $("cancelQ").focus(); });
  $("cancelNo").addEventListener("click", function () { $("confirm").hidden = true; $("cancel").hidden = false; $("cancel").focus(); });
  $("cancelYes").addEventListener("click", function () {
    $("cancelYes").disabled = true;
    fetch("/api/status/" + encodeURIComponent(TOKEN) + "/cancel", { method: "POST", cache: "no-store" }).then(function (r) {
      $("confirm").hidden = true; $("cancel").hidden = false; $("cancelYes").disabled = false;
      $("cancelErr").hidden = r.ok;
      // Cancelled: the state says so (the cancel box goes); refused: "cancel" again, under the error.
      if (r.ok) { data.status = "cancelled"; render(); $("state").focus(); } else $("cancel").focus();
      refetch();
    }).catch(function () { $("cancelYes").disabled = false; $("cancelErr").hidden = false; });
  });

  render();
  // The Socket.IO client loads after the first paint: on a slow line the number shows at once.
  var s = document.createElement("script");
  s.src = BOOT.socketio;
  s.onload = connect;
  document.body.appendChild(s);
})();
