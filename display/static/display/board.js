/* Növbə hall display board.
 *
 * State comes only from the server over Socket.IO (namespace /display): a full snapshot on
 * every (re)connect replaces it, then numbered events update it. An event whose seq is not
 * the next one is a gap: the board asks for a fresh snapshot ("snapshot" with an ack) and
 * replays what arrived meanwhile. No polling.
 *
 * Every call (called, recalled, returned) is flashed and queued for announcement; the queue
 * plays one call at a time (chime + speech, one WAV from /display/audio), so announcements
 * never overlap. Only what is still true is spoken: a call that ended (finished, no-show,
 * transferred, parked), moved to another counter, or was replaced at its counter is dropped
 * from the queue, and cut short if it is playing. The rule is one: an announcement is kept
 * only while the board's list of current calls holds its number at its counter.
 *
 * The board also sends a heartbeat on its socket (page version, sound unlocked or not) so
 * the supervisor sees a board that went quiet. window.novbeBoard exposes the state for tests.
 */
(function () {
  "use strict";

  var PAGE = JSON.parse(document.getElementById("board-config").textContent);
  var BOARD = PAGE.board;
  var TOKEN_KEY = "novbe.display.token." + BOARD;
  var LOST_AFTER_MS = 3000;       // a disconnection shorter than this is not shown
  var ANNOUNCE_GAP_MS = 700;      // silence between two announcements
  var MIN_HOLD_MS = 3500;         // a call stays in the big panel at least this long, sound or not
  var MAX_AUDIO_MS = 30000;       // a stuck audio element never blocks the queue for longer
  var CATCH_UP_SECONDS = 120;     // calls found in a reconnect snapshot this recent are announced
  var LANG_SECONDS = 10;          // area names and news rotate through the center's languages
  var HEARTBEAT_MS = 15000;       // unless the page says otherwise (the server flags silence after 60 s)
  var WAITS_REFRESH_MS = 15000;   // after hall events, the area waits are re-read at most this often
  var COUNTER_REFRESH_MS = 1000;  // a counter opening, pausing or closing: re-read this soon (a burst of them coalesces)
  var WAITS_MIN_GAP_MS = 3000;    // and never two reads of the waits closer than this
  var CALLS = { "ticket-called": 1, "ticket-recalled": 1, "ticket-returned": 1 };
  var LEAVES = { "ticket-finished": 1, "ticket-no-show": 1, "ticket-transferred": 1, "ticket-parked": 1,
                 "ticket-cancelled": 1, "ticket-expired": 1 };
  // Texts come from the catalogues (the "board" part) through the page, in the board's languages.
  var TEXTS = PAGE.texts || { az: {} };
  var DATE = PAGE.date || { months: [], weekdays: [] };   // Azerbaijani, Monday first
  var WEEKDAY_INDEX = { Mon: 0, Tue: 1, Wed: 2, Thu: 3, Fri: 4, Sat: 5, Sun: 6 };
  function words(key) {
    // One label in each of the board's languages, {az: …, ru: …, en: …}, as named() and fillLanguages() take it.
    var out = {};
    Object.keys(TEXTS).forEach(function (code) { if (TEXTS[code][key]) out[code] = TEXTS[code][key]; });
    return out;
  }
  function fill(template, values) {
    return String(template || "").replace(/\{(\w+)\}/g, function (all, name) {
      return values && name in values ? values[name] : all;
    });
  }
  var WAIT_WORDS = { min: words("wait_min"), now: words("wait_now"), none: words("wait_none") };
  var COUNTER_STATES = { closed: words("state_closed"), paused: words("state_paused") };

  var $ = function (id) { return document.getElementById(id); };
  var single = document.body.classList.contains("single");

  var state = {
    seq: 0,
    synced: false,            // a snapshot arrived since the last (re)connect
    center: null,
    day: null,
    timezone: PAGE.timezone || "Asia/Baku",
    services: {},             // code -> {area, letter, name}
    areaNames: {},            // code -> {az, ru, en}
    filter: { counters: [], areas: [], recent: 8, single_counter: null },
    calls: [],                // tickets now called to a counter on this board, newest first
    calledToday: false,       // a call was made today at a counter on this board ("no calls yet" is then untrue)
    waiting: {},              // area -> waiting tickets (whole center)
    areaLast: {},             // area -> its last waiting ticket's forecast {number, eta_minutes, eta_low, eta_high} (null: no counter)
    counters: {},             // number -> {state, ticket}
    flashSeconds: 8,
    clockOffset: 0            // center clock minus this PC's clock, in ms
  };
  var stats = { snapshots: 0, resyncs: 0, gaps: 0, events: 0, dropped: 0, waitReads: 0 };
  var flashUntil = {};        // "number@counter" -> performance.now() deadline
  var pending = [];           // events held while a snapshot is awaited
  var resyncing = false;
  var lang = "az";
  var soundIsBlocked = false;

  // ---- the display token: from the first URL into localStorage, then out of the URL ----

  function takeToken() {
    var url = new URL(window.location.href);
    var token = url.searchParams.get("token");
    if (token) {
      try { window.localStorage.setItem(TOKEN_KEY, token); } catch (e) { /* storage off: keep it in memory */ }
      url.searchParams.delete("token");
      window.history.replaceState(null, "", url.pathname + url.search + url.hash);
      return token;
    }
    try { return window.localStorage.getItem(TOKEN_KEY); } catch (e) { return null; }
  }

  // ---- the board's filter ----

  function areaOf(service) {
    var s = state.services[service];
    return s ? s.area : null;
  }

  function onBoard(counter, service) {
    var f = state.filter;
    if (f.single_counter !== null && f.single_counter !== undefined) return counter === f.single_counter;
    if (f.counters.length && f.counters.indexOf(counter) < 0) return false;
    if (f.areas.length && f.areas.indexOf(areaOf(service)) < 0) return false;
    return true;
  }

  function flashKey(call) { return call.number + "@" + call.counter; }
  function callKey(call) { return call.number + "@" + call.counter + "@" + call.at; }

  function flash(call) {
    flashUntil[flashKey(call)] = performance.now() + state.flashSeconds * 1000;
  }

  function isFlashing(call) {
    return (flashUntil[flashKey(call)] || 0) > performance.now();
  }

  function centerNow() { return Date.now() + state.clockOffset; }

  // ---- snapshot and events ----

  function applySnapshot(snap, answered) {
    // answered: this snapshot is the server's answer to our request after a gap.
    if (!snap || typeof snap.seq !== "number") return;
    if (state.synced && snap.seq < state.seq) return;   // an older answer overtaken by a newer one
    var first = state.center === null;
    var known = {};
    state.calls.forEach(function (c) { known[callKey(c)] = true; });

    state.seq = snap.seq;
    state.center = snap.center || {};
    state.day = snap.day || null;
    state.timezone = state.center.timezone || state.timezone;
    state.services = snap.services || {};
    state.areaNames = snap.areas || {};
    var b = (snap.boards || {})[BOARD];
    if (b) {
      state.filter = {
        counters: b.counters || [], areas: b.areas || [], recent: b.recent || 8,
        single_counter: b.single_counter === undefined ? null : b.single_counter
      };
    }
    state.flashSeconds = snap.flash_seconds || 8;
    if (typeof snap.now === "number") {
      // The board shows the server's center clock, whatever this PC's clock says.
      state.clockOffset = snap.now * 1000 - Date.now();
      lastDate = null;
      tick();
    }
    state.waiting = {};
    Object.keys(snap.waiting || {}).forEach(function (k) { state.waiting[k] = snap.waiting[k]; });
    state.areaLast = snap.area_last_waiting || {};
    state.counters = {};
    (snap.counters || []).forEach(function (c) { state.counters[c.number] = { state: c.state, ticket: c.ticket }; });
    state.calls = (snap.calls || [])
      .filter(function (c) { return onBoard(c.counter, c.service); })
      .map(function (c) { return { number: c.number, counter: c.counter, service: c.service, at: c.at }; })
      .sort(function (x, y) { return y.at - x.at; });
    state.calledToday = state.calls.length > 0 ||
      (snap.history || []).some(function (c) { return onBoard(c.counter, c.service); });

    if (!first) {
      // Calls made while this board was away: shown, flashed and announced, oldest first.
      var nowS = centerNow() / 1000;
      state.calls
        .filter(function (c) { return !known[callKey(c)] && nowS - c.at < CATCH_UP_SECONDS; })
        .sort(function (x, y) { return x.at - y.at; })
        .forEach(function (c) { flash(c); announce(c, "catch-up"); });
    }
    stats.snapshots += 1;
    state.synced = true;
    resyncing = false;
    setNotice(null);
    drain(answered === true);
    dropStale("snapshot");   // calls that ended while this board was away are not spoken
    render();
  }

  function onEvent(name, ev) {
    if (!ev || typeof ev.seq !== "number") return;
    if (!state.synced || resyncing) { pending.push([name, ev]); return; }
    consume(name, ev);
  }

  function consume(name, ev, noResync) {
    if (ev.seq <= state.seq) return;
    if (ev.seq > state.seq + 1) {
      if (noResync) { stats.dropped += 1; return; }
      stats.gaps += 1;
      pending.push([name, ev]);
      resync();
      return;
    }
    state.seq = ev.seq;
    stats.events += 1;
    applyEvent(name, ev);
  }

  function drain(answered) {
    // Events held while the snapshot was on its way, in order. After an answered request a
    // remaining gap cannot be filled by asking again (the snapshot was read after those
    // events were committed), so such an event is dropped rather than asked about forever.
    var held = pending.splice(0).sort(function (x, y) { return x[1].seq - y[1].seq; });
    for (var i = 0; i < held.length; i++) {
      if (resyncing) { pending.push(held[i]); continue; }
      consume(held[i][0], held[i][1], answered);
    }
  }

  function adjustWaiting(area, delta) {
    if (!area) return;
    state.waiting[area] = Math.max(0, (state.waiting[area] || 0) + delta);
  }

  function applyEvent(name, ev) {
    var area = areaOf(ev.service);
    if (CALLS[name]) {
      if (name === "ticket-called") adjustWaiting(area, -1);
      if (ev.counter !== null && ev.counter !== undefined) {
        state.counters[ev.counter] = { state: (state.counters[ev.counter] || {}).state || "open", ticket: ev.number };
      }
      if (onBoard(ev.counter, ev.service)) {
        var call = { number: ev.number, counter: ev.counter, service: ev.service, at: ev.at };
        state.calls = state.calls.filter(function (c) { return c.number !== ev.number && c.counter !== ev.counter; });
        state.calls.unshift(call);
        state.calls.length = Math.min(state.calls.length, 60);
        state.calledToday = true;
        flash(call);
        announce(call, name);
      }
    } else if (LEAVES[name]) {
      state.calls = state.calls.filter(function (c) { return c.number !== ev.number; });
      var held = state.counters[ev.counter];
      if (held && held.ticket === ev.number) held.ticket = null;
      // A transferred ticket waits again, under its new service.
      if (name === "ticket-transferred") adjustWaiting(area, +1);
      if (name === "ticket-cancelled") adjustWaiting(area, -1);
    } else if (name === "ticket-issued") {
      adjustWaiting(area, +1);
    } else if (name === "counter-changed") {
      var c = state.counters[ev.counter] || { ticket: null };
      c.state = ev.state;
      state.counters[ev.counter] = c;
    }
    dropStale(name);
    // A counter's state changes the areas' waits at once (a ticket waiting for a counter to open gets a figure):
    // re-read soon. Other hall events (a burst of issues) at most every WAITS_REFRESH_MS.
    if (name === "counter-changed") refreshWaitsSoon(COUNTER_REFRESH_MS);
    else if (name !== "service-started" && name !== "priority-verified") refreshWaitsSoon(WAITS_REFRESH_MS);
    render();
  }

  // ---- announcements: one at a time, in order ----

  var announcements = { queue: [], current: null, log: [], played: [], dropped: [] };

  function audioUrl(call) {
    return PAGE.audio + "?number=" + encodeURIComponent(call.number) + "&counter=" + encodeURIComponent(call.counter);
  }

  function makeAudio(url) {
    var a = new Audio();
    a.preload = "auto";
    a.src = url;
    return a;
  }

  function announce(call, why) {
    if (single) return;   // a counter-top screen stays silent: the hall board speaks
    var entry = { number: call.number, counter: call.counter, why: why, url: audioUrl(call) };
    entry.audio = makeAudio(entry.url);   // fetched now, while earlier calls are still playing
    announcements.log.push({ number: call.number, counter: call.counter, why: why });
    if (announcements.log.length > 1000) announcements.log.splice(0, 500);   // a board runs for weeks
    // The same call asked again before it was spoken (a quick recall) is spoken once, in its new place.
    announcements.queue = announcements.queue.filter(function (e) {
      if (e.number !== call.number || e.counter !== call.counter) return true;
      release(e);
      return false;
    });
    announcements.queue.push(entry);
    pump();
  }

  function stillTrue(entry) {
    // True while the board's current calls hold this number at this counter.
    for (var i = 0; i < state.calls.length; i++) {
      if (state.calls[i].number === entry.number && state.calls[i].counter === entry.counter) return true;
    }
    return false;
  }

  function release(entry) {
    // Stop fetching a file that will not be played.
    try { entry.audio.removeAttribute("src"); entry.audio.load(); } catch (e) { /* ignore */ }
  }

  function noteDropped(entry, why) {
    announcements.dropped.push({ number: entry.number, counter: entry.counter, why: why });
    if (announcements.dropped.length > 1000) announcements.dropped.splice(0, 500);
  }

  function dropStale(why) {
    // An announcement that is no longer true is not spoken: out of the queue, cut short if playing.
    announcements.queue = announcements.queue.filter(function (e) {
      if (stillTrue(e)) return true;
      release(e);
      noteDropped(e, why);
      return false;
    });
    var current = announcements.current;
    if (current && !current.dropped && !stillTrue(current)) {
      current.dropped = true;
      noteDropped(current, why);
      if (current.stop) current.stop();
    }
  }

  function sleep(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }

  function play(audio, entry) {
    return new Promise(function (resolve) {
      var done = false;
      if (entry) {
        if (entry.dropped) { resolve("dropped"); return; }
        entry.stop = function () {
          try { audio.pause(); } catch (e) { /* ignore */ }
          finish("dropped");
        };
      }
      var timer = setTimeout(function () {
        try { audio.pause(); } catch (e) { /* ignore */ }
        finish("timeout");
      }, MAX_AUDIO_MS);
      function finish(result) {
        if (done) return;
        done = true;
        if (entry) entry.stop = null;
        clearTimeout(timer);
        audio.onended = null;
        audio.onerror = null;
        resolve(result);
      }
      audio.onended = function () { finish("ended"); };
      audio.onerror = function () { finish("error"); };
      var p;
      try { p = audio.play(); } catch (e) { finish("error"); return; }
      if (p && typeof p.then === "function") {
        p.then(function () { setSoundBlocked(false); }, function (err) {
          if (err && err.name === "NotAllowedError") { setSoundBlocked(true); finish("blocked"); }
          else finish("error");
        });
      }
    });
  }

  function pump() {
    if (announcements.current) return;
    var entry = announcements.queue.shift();
    while (entry && !stillTrue(entry)) {   // belt and braces: never start a stale one
      release(entry);
      noteDropped(entry, "stale");
      entry = announcements.queue.shift();
    }
    if (!entry) { render(); return; }
    announcements.current = entry;
    var started = performance.now();
    render();
    play(entry.audio, entry)
      .then(function (result) {
        entry.result = result;
        if (result !== "error") return result;
        // The preloaded file failed (server busy or briefly away): once more, then the chime alone.
        return play(makeAudio(entry.url), entry).then(function (again) {
          return again === "error" ? play(makeAudio(PAGE.chime), entry) : again;
        });
      })
      .then(function (result) {
        announcements.played.push({ number: entry.number, counter: entry.counter, result: result });
        if (announcements.played.length > 1000) announcements.played.splice(0, 500);
        if (result === "dropped") return sleep(ANNOUNCE_GAP_MS);   // the next call need not wait
        var held = performance.now() - started;
        return sleep(Math.max(0, MIN_HOLD_MS - held) + ANNOUNCE_GAP_MS);
      })
      .then(function () {
        announcements.current = null;
        pump();
      });
  }

  function setSoundBlocked(blocked) {
    if (blocked === soundIsBlocked) return;
    soundIsBlocked = blocked;
    $("sound-blocked").hidden = !blocked;
    render();   // the mark takes its place under the calls: the list fits one row fewer, or more again
    heartbeat();   // the supervisor learns at once that this board cannot (or can again) be heard
  }

  // A one-second silent WAV, made here: a play() it is refused tells us sound is blocked.
  function silentWavUrl() {
    var n = 800, buf = new ArrayBuffer(44 + n * 2), v = new DataView(buf);
    function text(at, s) { for (var i = 0; i < s.length; i++) v.setUint8(at + i, s.charCodeAt(i)); }
    text(0, "RIFF"); v.setUint32(4, 36 + n * 2, true); text(8, "WAVE"); text(12, "fmt ");
    v.setUint32(16, 16, true); v.setUint16(20, 1, true); v.setUint16(22, 1, true);
    v.setUint32(24, 8000, true); v.setUint32(28, 16000, true); v.setUint16(32, 2, true); v.setUint16(34, 16, true);
    text(36, "data"); v.setUint32(40, n * 2, true);
    return URL.createObjectURL(new Blob([buf], { type: "audio/wav" }));
  }

  function probeSound() {
    var a = new Audio(silentWavUrl());
    var p;
    try { p = a.play(); } catch (e) { return; }
    if (p && typeof p.then === "function") {
      p.then(function () { setSoundBlocked(false); }, function (err) {
        if (err && err.name === "NotAllowedError") setSoundBlocked(true);
      });
    }
  }

  function unlockSound() {
    // Any tap counts as the gesture the browser waits for; the chime confirms sound works.
    if (!soundIsBlocked) return;
    play(makeAudio(PAGE.chime));
  }

  // ---- drawing ----

  function text(el, value) {
    if (el.textContent !== value) el.textContent = value;
  }

  // A call as a screen reader says it, in the board's page language (Azerbaijani): "A-003, masa 1".
  var CALL_SAID = words("call_said");
  function said(call) {
    return fill(CALL_SAID.az || "{number}, {counter}", { number: call.number, counter: call.counter });
  }

  function named(names) {
    if (!names) return "";
    return names[lang] || names.az || "";
  }

  // The language a text from named() is in: the board's page is Azerbaijani, so anything else is
  // marked (lang="ru" / "en") for screen readers, hyphenation and the right glyph shapes.
  function langOf(names) {
    return names && names[lang] ? lang : "az";
  }

  function setLang(el, code) {
    if (code === "az") el.removeAttribute("lang");
    else if (el.getAttribute("lang") !== code) el.setAttribute("lang", code);
  }

  // A label in each of the board's languages ("closed" on a counter-top board): each in its own span, with its lang.
  function fillLanguages(el, words) {
    var key = words ? words.az + "|" + words.ru + "|" + words.en : "";
    if (el.dataset.words === key) return;
    el.dataset.words = key;
    el.textContent = "";
    if (!words) return;
    el.appendChild(document.createTextNode(words.az));
    ["ru", "en"].forEach(function (code) {
      if (!words[code]) return;
      el.appendChild(document.createTextNode(" · "));
      var span = document.createElement("span");
      span.lang = code;
      span.textContent = words[code];
      el.appendChild(span);
    });
  }

  var flashTimer = null;

  function scheduleFlashEnd() {
    var now = performance.now(), next = Infinity;
    Object.keys(flashUntil).forEach(function (k) {
      if (flashUntil[k] <= now) delete flashUntil[k];
      else next = Math.min(next, flashUntil[k]);
    });
    if (flashTimer) clearTimeout(flashTimer);
    flashTimer = next === Infinity ? null : setTimeout(render, next - now + 30);
  }

  function renderHall() {
    var current = announcements.current && !announcements.current.dropped ? announcements.current : null;
    var latest = state.calls[0] || null;
    var shown = current || latest;
    var hero = $("hero");
    hero.classList.toggle("idle", !shown);
    hero.classList.toggle("flash", !!current || !!(latest && isFlashing(latest)));
    hero.classList.toggle("long", !!shown && shown.number.length > 5);   // "A-1015": a smaller size, one line still
    hero.dataset.number = shown ? shown.number : "";
    hero.dataset.counter = shown ? String(shown.counter) : "";
    text($("hero-number"), shown ? shown.number : "—");
    text($("hero-counter"), shown ? String(shown.counter) : "");
    text($("hero-said"), shown ? said(shown) : "—");

    var grid = $("waiting");
    var areas = PAGE.areas || [];
    $("waiting-section").hidden = areas.length === 0;
    document.body.classList.toggle("no-areas", areas.length === 0);
    areas.forEach(function (code, i) {
      var tile = grid.children[i];
      if (!tile) {
        tile = document.createElement("div");
        tile.className = "area";
        tile.innerHTML = '<span class="area-name"></span><span class="area-count"></span><span class="area-wait"></span>';
        grid.appendChild(tile);
      }
      var n = state.waiting[code] || 0;
      tile.dataset.area = code;
      tile.classList.toggle("none", n === 0);
      text(tile.children[0], named(state.areaNames[code]) || code);
      setLang(tile.children[0], langOf(state.areaNames[code]));
      text(tile.children[1], String(n));
      // The forecast of the area's last waiting citizen, worded as their own ticket and status
      // page word it (a range when it is wider than a minute, else "~N"): it is an estimate, not
      // a bound. null when no counter serving the area is open (or will be before closing).
      var last = n > 0 && code in state.areaLast ? state.areaLast[code] : undefined;
      var wait = last ? last.eta_minutes : last;
      var range = last && last.eta_high > last.eta_low + 1;
      var w = tile.children[2];
      w.dataset.minutes = wait === undefined ? "" : wait === null ? "none" : String(wait);
      w.dataset.number = last ? last.number : "";
      w.classList.toggle("no-counter", wait === null);
      var words = wait === null ? WAIT_WORDS.none : wait < 1 && !range ? WAIT_WORDS.now : WAIT_WORDS.min;
      text(w, wait === undefined ? "" : range ? last.eta_low + "–" + last.eta_high + " " + named(words)
        : wait === null || wait < 1 ? named(words) : "~" + wait + " " + named(words));
      setLang(w, langOf(words));
    });
    fitAreaNames(grid);

    // The center's name stays in Azerbaijani: it is the name on the building.
    if (state.center && state.center.name && state.center.name.az) text($("center-name"), state.center.name.az);
    renderNews();
    renderCalls();   // last: how many rows fit depends on the rest (names wrap, the news line may wrap)
  }

  function renderCalls() {
    var recent = state.filter.recent || 8;
    var list = $("calls");
    // Rows keep the size a hall needs from 10 m; a short screen shows fewer of them, not smaller ones.
    var rows = state.calls.slice(0, Math.min(recent, rowsThatFit(list, recent)));
    var items = list.children;
    while (items.length > rows.length) list.removeChild(list.lastChild);
    rows.forEach(function (call, i) {
      var li = items[i];
      if (!li) {
        li = document.createElement("li");
        li.className = "call";
        // Seen: number ➜ counter; heard: "A-003, masa 1" (the arrow is not read).
        li.innerHTML = '<span class="sr-only"></span><span class="n" aria-hidden="true"></span>' +
          '<span class="a" aria-hidden="true">➜</span><span class="c" aria-hidden="true"></span>';
        list.appendChild(li);
      }
      li.dataset.number = call.number;
      li.dataset.counter = String(call.counter);
      text(li.children[0], said(call));
      text(li.children[1], call.number);
      text(li.lastChild, String(call.counter));
      li.classList.toggle("flash", isFlashing(call));
    });
    // "No calls yet" only before the day's first call here; after it, "no one is being called now".
    $("calls-empty").hidden = rows.length > 0 || state.calledToday;
    $("calls-none-now").hidden = rows.length > 0 || !state.calledToday;
    list.hidden = rows.length === 0;
  }

  function rowsThatFit(list, most) {
    // How many call rows the list's box holds: measured with one row (they are all one height).
    var empty = $("calls-empty"), wasHidden = list.hidden, emptyWasHidden = empty.hidden;
    var noneNow = $("calls-none-now"), noneNowWasHidden = noneNow.hidden;
    list.hidden = false;
    empty.hidden = true;
    noneNow.hidden = true;
    var probe = list.firstElementChild;
    var made = !probe;
    if (made) {
      probe = document.createElement("li");
      probe.className = "call";
      probe.innerHTML = '<span class="n">0</span>';
      list.appendChild(probe);
    }
    var room = list.getBoundingClientRect().height, rowHeight = probe.getBoundingClientRect().height;
    if (made) list.removeChild(probe);
    list.hidden = wasHidden;
    empty.hidden = emptyWasHidden;
    noneNow.hidden = noneNowWasHidden;
    if (!rowHeight) return most;
    return Math.max(1, Math.floor((room + 0.5) / rowHeight));
  }

  function fitAreaNames(grid) {
    // Names wrap; if the column is still too short they shrink once, to the readable minimum.
    var section = $("waiting-section");
    section.classList.remove("tight");
    if (grid.scrollHeight > grid.clientHeight + 1) section.classList.add("tight");
  }

  var newsShown = null;

  function renderNews() {
    var news = state.center && state.center.news;
    var line = named(news);
    var box = $("news");
    box.hidden = !line;
    document.body.classList.toggle("no-news", !line);
    if (!line || line === newsShown) return;
    newsShown = line;
    var span = $("news-text");
    span.classList.remove("scroll");
    span.textContent = line;
    setLang(span, langOf(news));
    var overflow = span.scrollWidth - (box.clientWidth - 60);
    if (overflow > 0) {
      span.style.setProperty("--scroll-by", -overflow + "px");
      span.style.setProperty("--scroll-seconds", Math.max(4, LANG_SECONDS - 2) + "s");
      void span.offsetWidth;   // restart the animation
      span.classList.add("scroll");
    }
  }

  function renderSingle() {
    var number = state.filter.single_counter;
    if (number === null || number === undefined) return;
    text($("single-counter"), String(number));
    var info = state.counters[number] || {};
    var el = $("single-number");
    var ticket = info.ticket || null;
    text(el, ticket || "—");
    el.dataset.number = ticket || "";
    el.classList.toggle("idle", !ticket);
    el.classList.toggle("flash", !!ticket && isFlashing({ number: ticket, counter: number }));
    fillLanguages($("single-state"), ticket ? null : (COUNTER_STATES[info.state] || null));
  }

  function render() {
    if (single) renderSingle(); else renderHall();
    scheduleFlashEnd();
  }

  // ---- clock, date, language rotation ----

  var lastDate = null;

  function tick() {
    var now = new Date(centerNow());
    var tz = state.timezone;
    var hm;
    var parts = {};
    try {
      hm = new Intl.DateTimeFormat("en-GB", { timeZone: tz, hour: "2-digit", minute: "2-digit", hourCycle: "h23" })
        .format(now);
      new Intl.DateTimeFormat("en-US", { timeZone: tz, year: "numeric", month: "numeric", day: "numeric",
                                         weekday: "short" })
        .formatToParts(now).forEach(function (p) { parts[p.type] = p.value; });
    } catch (e) {
      return;
    }
    text($("clock"), hm);
    var date = $("date");
    if (date) {
      text(date, parts.day + " " + (DATE.months[Number(parts.month) - 1] || parts.month) + " " + parts.year + ", " +
                 (DATE.weekdays[WEEKDAY_INDEX[parts.weekday]] || ""));
    }
    // A new business day: yesterday's calls must go. Ask once, at the change.
    var iso = parts.year + "-" + ("0" + parts.month).slice(-2) + "-" + ("0" + parts.day).slice(-2);
    if (lastDate !== null && iso !== lastDate && state.synced) resync();
    lastDate = iso;
  }

  function rotateLanguage() {
    var langs = (state.center && state.center.languages && state.center.languages.length)
      ? state.center.languages : ["az"];
    var i = langs.indexOf(lang);
    lang = langs[(i + 1) % langs.length];
    render();
  }

  // ---- notices and the connection mark ----

  // A notice's lines: Azerbaijani, Russian, English (empty for a language the board does not show).
  function noticeLines(key, values) {
    return ["az", "ru", "en"].map(function (code) { return TEXTS[code] ? fill(TEXTS[code][key], values) : ""; });
  }

  function setNotice(lines) {
    var box = $("notice");
    if (!lines) { box.hidden = true; return; }
    // lines: Azerbaijani, then Russian and English, each marked with its language.
    box.textContent = "";
    box.appendChild(document.createTextNode(lines[0]));
    var tr = document.createElement("span");
    tr.className = "tr";
    ["ru", "en"].forEach(function (code, i) {
      if (!lines[i + 1]) return;
      if (i) tr.appendChild(document.createTextNode(" · "));
      var span = document.createElement("span");
      span.lang = code;
      span.textContent = lines[i + 1];
      tr.appendChild(span);
    });
    box.appendChild(tr);
    box.hidden = false;
  }

  var lostTimer = null;

  function connectionLost() {
    if (lostTimer === null) {
      lostTimer = setTimeout(function () { $("conn-lost").hidden = false; render(); }, LOST_AFTER_MS);
    }
  }

  function connectionBack() {
    if (lostTimer !== null) clearTimeout(lostTimer);
    lostTimer = null;
    $("conn-lost").hidden = true;
    render();
  }

  // ---- the socket ----

  var socket = null;

  function resync() {
    if (resyncing || !socket || !socket.connected) return;
    resyncing = true;
    stats.resyncs += 1;
    socket.timeout(5000).emit("snapshot", {}, function (err, snap) {
      resyncing = false;
      if (err || !snap || typeof snap.seq !== "number") {
        if (socket.connected) setTimeout(resync, 1000);
        return;
      }
      applySnapshot(snap, true);
    });
  }

  // The area waits come with snapshots only: after hall events, a fresh one is read `delay` ms
  // later (an earlier read already planned stands), never sooner than WAITS_MIN_GAP_MS after the
  // last one, never on a timer of its own.
  var waitsTimer = null, waitsDue = 0, lastWaitsRead = -Infinity;

  function refreshWaitsSoon(delay) {
    if (single || !(PAGE.areas || []).length) return;
    var now = performance.now();
    var due = Math.max(now + delay, lastWaitsRead + WAITS_MIN_GAP_MS);
    if (waitsTimer !== null) {
      if (waitsDue <= due) return;
      clearTimeout(waitsTimer);
    }
    waitsDue = due;
    waitsTimer = setTimeout(function () {
      waitsTimer = null;
      if (!socket || !socket.connected || !state.synced || resyncing) return;
      lastWaitsRead = performance.now();
      stats.waitReads += 1;
      socket.timeout(5000).emit("snapshot", {}, function (err, snap) {
        if (!err && snap && typeof snap.seq === "number" && !resyncing) applySnapshot(snap, true);
      });
    }, due - now);
  }

  // ---- the heartbeat: the supervisor's device list shows this board's health ----

  function heartbeat() {
    if (!socket || !socket.connected) return;
    socket.emit("heartbeat", {
      version: PAGE.version || "",
      sound: single ? "silent" : soundIsBlocked ? "blocked" : "unlocked",
      synced: state.synced,
      queue: announcements.queue.length
    });
  }

  function start() {
    var token = takeToken();
    tick();
    setInterval(tick, 1000);
    setInterval(rotateLanguage, LANG_SECONDS * 1000);
    // How many call rows fit depends on the screen, and on the names once the font has loaded.
    window.addEventListener("resize", render);
    if (document.fonts && document.fonts.ready) document.fonts.ready.then(render);
    document.addEventListener("pointerdown", unlockSound);
    document.addEventListener("keydown", unlockSound);
    $("sound-blocked").addEventListener("click", unlockSound);
    if (!single) probeSound();
    render();
    if (!token) {
      setNotice(noticeLines("no_token", { command: "`novbe run`", example: "token=…" }));
      return;
    }
    socket = window.io(PAGE.namespace, {
      auth: { token: token },
      reconnectionDelay: 500,
      reconnectionDelayMax: 2000,
      randomizationFactor: 0.3,
      timeout: 5000
    });
    connectionLost();   // shown only if the first connection takes longer than LOST_AFTER_MS
    socket.on("connect", function () {
      connectionBack();
      heartbeat();
      // The server sends a snapshot on connect; ask ourselves if it does not come.
      setTimeout(function () { if (socket.connected && !state.synced) resync(); }, 3000);
    });
    socket.on("disconnect", function () {
      state.synced = false;
      resyncing = false;
      connectionLost();
    });
    socket.on("connect_error", function () {
      if (!socket.active) {
        // Refused by the server: the token is wrong or was replaced. Try again now and then.
        setNotice(noticeLines("token_refused", { command: "`novbe device add display " + BOARD + "`" }));
        setTimeout(function () { socket.connect(); }, 60000);
      }
      connectionLost();
    });
    socket.on("snapshot", function (snap) { applySnapshot(snap, false); });
    socket.onAny(function (name, data) {
      if (name !== "snapshot") onEvent(name, data);
    });
    setInterval(heartbeat, (PAGE.heartbeat_seconds || HEARTBEAT_MS / 1000) * 1000);
  }

  window.novbeBoard = {
    state: state,
    stats: stats,
    announced: announcements.log,     // every call queued for announcement, in order
    played: announcements.played,     // every announcement finished, with how it went
    get queue() { return announcements.queue.map(function (e) { return { number: e.number, counter: e.counter }; }); },
    get current() {
      var c = announcements.current;
      return c && !c.dropped ? { number: c.number, counter: c.counter } : null;
    },
    dropped: announcements.dropped,   // announcements dropped because the call was no longer true
    heartbeat: heartbeat,
    get connected() { return !!(socket && socket.connected); },
    get soundBlocked() { return soundIsBlocked; },
    resync: resync,
    receive: onEvent,             // tests feed events here (e.g. a gap)
    get language() { return lang; },
    showLanguage: function (code) { lang = code; render(); }   // tests look at each language at once
  };

  start();
})();
