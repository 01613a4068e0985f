/* The operator's counter page: log in, pick and open a counter, work the queue. */
"use strict";

(function () {
  const N = window.Novbe;
  const COUNTER_KEY = "novbe.counter";
  const $ = (id) => document.getElementById(id);
  let chosen = Number(localStorage.getItem(COUNTER_KEY)) || null;
  let picking = false;

  const desk = N.Desk($("desk"), {
    compact: false,
    focusScope: $("desk-view"),       // the desk and its side lists keep the focus together
    rerender: () => render(),
    extraFoot: () => `<button type="button" class="btn small ghost" data-act="pick">${N.esc(N.t("change_counter"))}</button>`,
  });
  // "Other counter" is not a counter action: handled before the desk's click handler sees it.
  $("desk").addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-act=pick]");
    if (b) { ev.stopImmediatePropagation(); showPicker(); }
  }, true);

  function show(view) {
    const was = ["login-view", "picker-view", "desk-view"].find((v) => !$(v).hidden);
    for (const v of ["login-view", "picker-view", "desk-view"]) $(v).hidden = v !== view;
    if (view === "login-view") {
      // Logged out (or blocked): nothing of the last session's counter stays on the screen or in the live region.
      $("counter-title").textContent = "";
      $("desk-heading").textContent = "";
      $("desk-announce").textContent = "";
      lastSaid = null;
      announced = undefined;
      pickerLoading();
      document.title = N.t("login_title") + " — Növbə";
    }
    // A view that appears takes the focus (a hidden form's autofocus does nothing): staff start typing at once.
    if (view === "login-view" && was !== view) $("login-form").username.focus();
  }

  /** The picker before this session's first snapshot: the last session's counters are not this one's
      (pressing one did nothing), so nothing to press, only a line saying the counters are loading. */
  function pickerLoading() {
    $("picker").innerHTML = `<p class="picker-loading muted" role="status">${N.esc(N.t("picker_loading"))}</p>`;
  }

  function showPicker() {
    picking = true;
    render();
  }

  async function choose(number) {
    const snap = N.live.snap;
    const c = snap && snap.counters.find((x) => x.number === number);
    if (!c) return;
    if (c.operator && c.operator !== N.user.username && !N.isSupervisor()) {
      N.toast(N.t("held_by_other", { n: number, who: c.operator }), "error");
      return;
    }
    if (c.operator && c.operator !== N.user.username &&
        !(await N.confirm({ title: N.counterName(c), text: N.t("take_over_q", { n: number, who: c.operator }), yes: N.t("open_counter") }))) return;
    try {
      if (c.state === "closed" || c.operator !== N.user.username) await N.api("POST", `/api/counters/${number}/open`);
      chosen = number;
      localStorage.setItem(COUNTER_KEY, String(number));
      picking = false;
      N.live.request();
      render();
    } catch (e) {
      N.showError(e);
    }
  }

  function renderPicker(snap) {
    const me = N.user.username;
    N.morph($("picker"), snap.counters.map((c) => {
      const mine = c.operator === me;
      const other = c.operator && !mine;
      const blocked = other && !N.isSupervisor();
      return `<button type="button" class="pick ${c.state} ${mine ? "mine" : ""} ${c.number === chosen ? "last" : ""}"
                data-counter="${c.number}" ${blocked ? "disabled" : ""}>
          <b>${N.esc(N.counterName(c))}</b>
          <span class="badge ${c.state}">${N.esc(N.t("state_" + c.state))}</span>
          <small>${other ? N.esc(N.t("held_by", { who: c.operator })) : mine ? N.esc(N.t("your_counter")) : "&nbsp;"}</small>
          <small class="svc-count">${N.esc(N.t("waiting"))}: ${c.waiting}</small>
        </button>`;
    }).join(""));
  }

  function renderSide(snap, c) {
    const x = desk.ctx();
    // Today's figures.
    const limit = c.daily_limit ? `${c.handled_today} / ${c.daily_limit}` : `${c.handled_today} · ${N.t("no_limit")}`;
    $("figures").innerHTML = `
      <div class="fig"><b id="fig-served">${c.served}</b><span>${N.esc(N.t("served"))}</span></div>
      <div class="fig"><b id="fig-noshow">${c.no_show}</b><span>${N.esc(N.t("no_shows"))}</span></div>
      <div class="fig"><b>${c.avg_service_minutes == null ? "—" : c.avg_service_minutes + " " + N.esc(N.t("min"))}</b><span>${N.esc(N.t("avg_service"))}</span></div>
      <div class="fig ${x.limitReached ? "alert" : ""}"><b id="fig-limit">${limit}</b><span>${N.esc(N.t("daily_limit"))}</span></div>`;
    // Parked tickets of this counter.
    const parked = snap.parked.filter((t) => t.counter === c.number);
    $("parked-box").hidden = parked.length === 0;
    N.morph($("parked"), parked.map((t) => `
      <li data-number="${N.esc(t.number)}"><b class="num">${N.esc(t.number)}</b><span class="what"><span class="svc">${N.esc(N.serviceName(t.service, t.service_name))}</span>${t.priority
          ? `<span class="prio-mark">★ ${N.esc(N.groupName(t.priority))}${t.priority_verified_by ? " ✓" : ""}</span>` : ""}</span>
        <button type="button" class="btn small" data-return="${N.esc(t.number)}" ${x.can.returnParked && !desk.busy ? "" : "disabled"}>${N.esc(N.t("return"))}</button></li>`).join(""));
    // The waiting list.
    const waiting = x.waiting;
    $("waiting-count").textContent = waiting.length;
    N.morph($("waiting"), waiting.length ? waiting.map((t) => {
      const prio = t.priority ? `<span class="prio-mark" title="${N.esc(N.groupName(t.priority))}">★ ${N.esc(N.groupName(t.priority))}</span>
          ${t.priority_verified_by ? `<span class="verified">✓ ${N.esc(N.t("verified_by", { who: t.priority_verified_by }))}</span>`
            : `<button type="button" class="btn tiny" data-verify="${N.esc(t.number)}">${N.esc(N.t("verify"))}</button>`}` : "";
      const call = snap.allow_call_specific
        ? `<button type="button" class="btn tiny call" data-call="${N.esc(t.number)}" ${x.can.callSpecific && !desk.busy ? "" : "disabled"}>${N.esc(N.t("call_this"))}</button>` : "";
      const over = t.over_target || N.minutesSince(t.issued_at) > N.targetWait(t.service);
      return `<li class="${over ? "over" : ""} ${t.priority ? "has-prio" : ""}" data-number="${N.esc(t.number)}">
          <b class="num">${N.esc(t.number)}</b>
          <span class="what"><span class="svc">${N.esc(N.serviceName(t.service, t.service_name))}</span>${t.target_counter ? `<i class="for">${N.esc(N.t("for_counter", { n: t.target_counter }))}</i>` : ""}${prio ? `<span class="prio-line">${prio}</span>` : ""}</span>
          <span class="wait" data-wait-since="${t.issued_at}">${N.esc(N.t("waited", { m: N.minutesSince(t.issued_at) }))}</span>
          ${call}
        </li>`;
    }).join("") : `<li class="empty">${N.esc(N.t("nobody_waiting"))}</li>`);
  }

  function render() {
    const snap = N.live.snap;
    if (!N.user) { show("login-view"); return; }
    if (!snap) return;
    if (chosen == null && !picking) {
      const mine = snap.counters.find((c) => c.operator === N.user.username && c.state !== "closed");
      if (mine) chosen = mine.number;
    }
    const c = chosen != null && snap.counters.find((x) => x.number === chosen);
    N.live.scope = picking || !c ? null : chosen;
    if (c && !picking && !c.services) { N.live.request(); return; }   // a cut made for another counter
    if (picking || !c) {
      // Coming from another view, the focus was on something now hidden: choose the best control.
      const keep = $("picker-view").hidden ? "" : N.focusKey($("picker"));
      show("picker-view");
      $("counter-title").textContent = "";
      renderPicker(snap);
      N.refocus($("picker"), keep, ["button.pick.last:not(:disabled)", "button.pick.mine", "button.pick:not(:disabled)"]);
      return;
    }
    const keep = $("desk-view").hidden ? "" : N.focusKey($("desk-view"));
    show("desk-view");
    $("counter-title").innerHTML = `${N.esc(N.counterName(c))} <span class="badge ${c.state}">${N.esc(N.t("state_" + c.state))}</span>`;
    document.title = `${N.counterName(c)} — Növbə`;
    $("desk-heading").textContent = N.counterName(c);
    desk.counter = c.number;
    desk.render();
    renderSide(snap, c);
    N.refocus($("desk-view"), keep, desk.focusFallbacks.concat([$("desk")]));
    announce(c);
  }

  // The live region says which number was called (and called again): the operator need not look.
  let announced;   // undefined until the desk is first drawn: what was in hand then is not news
  let lastSaid = null;   // what the live region says ([key, values]): said again in a language chosen later
  function say() {
    $("desk-announce").textContent = lastSaid ? N.t(lastSaid[0], lastSaid[1]) : "";
  }
  function announce(c) {
    const t = c.ticket;
    const now = t && t.status === "called" ? `${c.number}:${t.number}:${t.recalls}` : null;
    if (now === announced) return;
    const first = announced === undefined;
    announced = now;
    if (!now || first) return;
    lastSaid = [t.recalls ? "announce_recalled" : "announce_called", { n: t.number, svc: N.serviceName(t.service, t.service_name) }];
    say();
  }

  $("picker").addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-counter]");
    if (b && !b.disabled) choose(Number(b.dataset.counter));
  });
  $("side").addEventListener("click", (ev) => {
    const v = ev.target.closest("button[data-verify]");
    if (v) { v.disabled = true; N.verifyPriority(v.dataset.verify); return; }
    const call = ev.target.closest("button[data-call]");
    if (call && !call.disabled) { desk.act("call", { number: call.dataset.call }); return; }
    const ret = ev.target.closest("button[data-return]");
    if (ret && !ret.disabled) desk.act("return", { number: ret.dataset.return });
  });
  document.addEventListener("keydown", (ev) => {
    if (!N.user || $("desk-view").hidden) return;
    // Shortcuts are function keys and Alt+letter: they work from anywhere, a text field included
    // (where F5 would otherwise reload the page); the desk ignores them while a dialog is open.
    desk.handleKey(ev);
  });
  $("logout").addEventListener("click", async () => {
    await N.logout();
    N.live.snap = null;
    N.live.seq = -1;
    N.showUser();
    show("login-view");
  });

  // A counter page shows its own counter and the tickets it may call: an event about another
  // counter's ticket of a service this counter does not serve changes nothing here.
  N.live.relevant = (name, e) => {
    const snap = N.live.snap;
    const c = snap && N.live.scope != null && snap.counters.find((x) => x.number === N.live.scope);
    if (!c || !c.services) return true;
    if (name === "counter-changed" || e.counter === c.number || e.to_counter === c.number) return true;
    return c.services.includes(e.service) || c.services.includes(e.from_service);
  };
  N.live.onSnapshot.push(render);
  N.onLang.push(render);
  N.onLang.push(() => { if (!N.live.snap && $("picker").querySelector(".picker-loading")) pickerLoading(); });
  N.onLang.push(() => {
    // the service's name too is given again in the new language
    if (!lastSaid || !N.live.snap) return;
    const c = N.live.snap.counters.find((x) => x.number === chosen);
    const t = c && c.ticket;
    if (t && t.number === lastSaid[1].n) lastSaid[1].svc = N.serviceName(t.service, t.service_name);
    say();
  });
  N.onLoggedOut.push(() => {
    N.user = null;
    N.live.snap = null;
    if (N.live.socket) { N.live.socket.disconnect(); N.live.socket = null; }
    N.showUser();
    show("login-view");
  });

  async function start() {
    N.showUser();
    N.live.seq = -1;
    N.live.snap = null;       // whatever is left is the last session's: wait for this one's
    pickerLoading();
    show("picker-view");
    N.loadCatalog().then(render).catch(N.showError);
    N.live.connect();
  }

  N.chrome();
  N.loginForm(start);
  N.me().then((u) => (u ? start() : show("login-view"))).catch((e) => { show("login-view"); N.showError(e); });
})();
