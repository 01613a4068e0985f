/* The citizen's rating on the status page (/t/<token>): five faces once the visit is served.
   Kept apart from status.js: it only watches the ticket state status.js shows (#state's
   data-status) and talks to /api/status/<token>/rating. It loads its own texts and styles. */
(function () {
  "use strict";
  var BOOT = JSON.parse(document.getElementById("status-boot").textContent);
  var TOKEN = BOOT.token, LANG = BOOT.lang;
  var URL = "/api/status/" + encodeURIComponent(TOKEN) + "/rating";
  var T = null, state = null, score = 0, reason = null, box = null, asked = false;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }
  function name(n) { return (n && (n[LANG] || n.az)) || ""; }

  function render() {
    if (!T || !state) return;
    if (!box) {
      box = el("section", "rating");
      box.id = "rating";
      box.setAttribute("aria-live", "polite");
      document.querySelector("main").appendChild(box);
    }
    box.textContent = "";
    box.hidden = !(state.can_rate || state.rated || state.message);
    if (state.rated || state.message) {
      var done = el("p", "rating-done", state.message || T.thanks);
      done.id = "rating-done";
      done.tabIndex = -1;   // takes the focus after "send", which is gone with the form
      box.appendChild(done);
      return;
    }
    if (!state.can_rate) return;
    var h = el("h2", null, T.question);
    h.id = "rating-q";
    box.appendChild(h);
    var faces = el("div", "faces");
    faces.setAttribute("role", "radiogroup");
    faces.setAttribute("aria-labelledby", "rating-q");
    for (var s = 1; s <= 5; s++) faces.appendChild(faceButton(s));
    box.appendChild(faces);
    if (score) {
      if (score <= 3 && state.reasons && state.reasons.length) {
        var why = el("fieldset", "reasons");
        why.appendChild(el("legend", null, T.why));
        state.reasons.forEach(function (r) {
          var label = el("label", "reason");
          var input = el("input");
          input.type = "radio"; input.name = "reason"; input.value = r.code;
          input.checked = reason === r.code;
          input.addEventListener("change", function () { reason = r.code; });
          label.appendChild(input);
          label.appendChild(document.createTextNode(" " + name(r.name)));
          why.appendChild(label);
        });
        box.appendChild(why);
      }
      var text = el("textarea", "comment");
      text.id = "rating-comment";
      text.maxLength = 500; text.rows = 3; text.placeholder = T.comment;
      text.setAttribute("aria-label", T.comment);
      box.appendChild(text);
      var send = el("button", "send", T.send);
      send.type = "button"; send.id = "rating-send";
      send.addEventListener("click", function () { submit(send, text.value); });
      box.appendChild(send);
    }
    box.appendChild(el("p", "anon", T.anonymous));
    var err = el("p", "rating-err", T.failed);
    err.id = "rating-err"; err.hidden = true;
    box.appendChild(err);
  }

  function faceButton(s) {
    var b = el("button", "face-btn" + (score === s ? " on" : ""));
    b.type = "button";
    b.dataset.score = String(s);
    b.setAttribute("role", "radio");
    b.setAttribute("aria-checked", score === s ? "true" : "false");
    b.setAttribute("aria-label", s + " — " + T.scores[s - 1]);
    b.tabIndex = score ? (score === s ? 0 : -1) : (s === 1 ? 0 : -1);
    b.appendChild(window.NOVBE_FACE(s));
    b.appendChild(el("span", "lbl", T.scores[s - 1]));
    b.addEventListener("click", function () { pick(s); });
    b.addEventListener("keydown", function (ev) {
      var next = ev.key === "ArrowRight" || ev.key === "ArrowDown" ? s + 1 : ev.key === "ArrowLeft" || ev.key === "ArrowUp" ? s - 1 : 0;
      if (next >= 1 && next <= 5) { ev.preventDefault(); pick(next); }
    });
    return b;
  }

  function pick(s) {
    score = s;
    if (s > 3) reason = null;
    render();
    var b = box.querySelector('.face-btn[data-score="' + s + '"]');
    if (b) b.focus();
  }

  function submit(button, comment) {
    button.disabled = true;
    var body = { score: score };
    if (reason) body.reason = reason;
    if (comment && comment.trim()) body.comment = comment.trim().slice(0, 500);
    fetch(URL, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body), cache: "no-store" })
      .then(function (r) { return r.json().then(function (d) { return [r.status, d]; }); })
      .then(function (res) {
        var d = res[1];
        if (res[0] === 201) { state.rated = true; state.can_rate = false; }
        else if (d && d.error === "already_rated") { state.can_rate = false; state.message = T.already; }
        else if (d && d.error === "rating_closed") { state.can_rate = false; state.message = T.closed; }
        else throw new Error(d && d.error);
        render();
        document.getElementById("rating-done").focus();
      })
      .catch(function () {
        button.disabled = false;
        var err = document.getElementById("rating-err");
        if (err) err.hidden = false;
      });
  }

  function load() {
    fetch(URL, { cache: "no-store" }).then(function (r) { return r.ok ? r.json() : null; }).then(function (d) {
      if (d && d.ok) { state = d; render(); }
    }).catch(function () { asked = false; });
  }

  // The ticket's state as status.js shows it: ask the server once the visit is served.
  function watch() {
    var st = document.getElementById("state");
    if (!st) return;
    function check() {
      if (st.dataset.status === "done" && !asked) { asked = true; load(); }
    }
    new MutationObserver(check).observe(st, { attributes: true, attributeFilter: ["data-status"] });
    check();
  }

  var css = document.createElement("link");
  css.rel = "stylesheet";
  css.href = document.currentScript.src.replace(/rating\.js(\?.*)?$/, "rating.css");
  document.head.appendChild(css);
  // The texts (from the server's catalogues) and the faces, then the first drawing.
  var pending = 2;
  ["/i18n/rating.js", "/static/rating-face.js"].forEach(function (src) {
    var s = document.createElement("script");
    s.src = src;
    s.onload = function () {
      if (--pending) return;
      T = window.NOVBE_RATING_TEXTS[LANG] || window.NOVBE_RATING_TEXTS.az;
      render(); watch();
    };
    document.body.appendChild(s);
  });
})();
