/* The counter's action panel (current ticket, call next, recall, start, finish, no-show, transfer,
   park, pause/resume, open/close), shared by the counter page and the supervisor view. Buttons are
   enabled only when the action is legal in the counter's current state. */
"use strict";

(function () {
  const N = window.Novbe;

  N.catalog = null;   // /api/services: areas, services, priority groups
  N.loadCatalog = async function () {
    if (!N.catalog) N.catalog = await N.api("GET", "/api/services");
    return N.catalog;
  };
  N.groupName = function (code) {
    const g = N.catalog && N.catalog.priority_groups.find((x) => x.code === code);
    return g ? N.name(g.name) : code;
  };
  N.targetWait = function (code) {
    const s = N.catalog && N.catalog.services.find((x) => x.code === code);
    return s && s.target_wait ? s.target_wait : Infinity;
  };
  N.serviceName = function (code, snapName) {
    if (snapName && Object.keys(snapName).length) return N.name(snapName);
    const s = N.catalog && N.catalog.services.find((x) => x.code === code);
    return s ? N.name(s.name) : code;
  };

  /** The waiting tickets this counter may take: its services, or transferred to it by name. */
  N.waitingFor = function (snap, c) {
    const rank = (code) => {
      const g = N.catalog && N.catalog.priority_groups.find((x) => x.code === code);
      return g ? g.rank : 99;
    };
    return snap.waiting
      .filter((t) => (t.target_counter != null ? t.target_counter === c.number : c.services.includes(t.service)))
      .sort((a, b) => (a.target_counter == null) - (b.target_counter == null) ||
        (a.priority ? rank(a.priority) : 100) - (b.priority ? rank(b.priority) : 100) || a.issued_at - b.issued_at);
  };

  const PAUSE_PRESETS = ["pause_lunch", "pause_short", "pause_tech", "pause_meeting", "pause_backoffice"];

  N.Desk = function (root, opts) {
    const desk = { busy: false, counter: null };

    desk.ctx = function () {
      const snap = N.live.snap;
      if (!snap || desk.counter == null) return null;
      const c = snap.counters.find((x) => x.number === desk.counter);
      if (!c) return null;
      const held = !!N.user && c.operator === N.user.username;
      const sup = N.isSupervisor();
      const mayAct = held || sup;
      const t = c.ticket;
      const limitReached = !!c.daily_limit && c.handled_today >= c.daily_limit;
      const waiting = N.waitingFor(snap, c);
      const st = c.state;
      const working = mayAct && st === "open";
      return {
        snap, c, t, held, sup, mayAct, limitReached, waiting,
        can: {
          open: (st === "closed" || !held) && (!c.operator || held || sup),
          callNext: working && !t && !limitReached && waiting.length > 0,
          callSpecific: working && !t && !limitReached && snap.allow_call_specific,
          recall: working && !!t && t.status === "called",
          start: working && !!t && t.status === "called",
          noShow: working && !!t && t.status === "called",
          finish: working && !!t && (t.status === "called" || t.status === "serving"),
          transfer: working && !!t && (t.status === "called" || t.status === "serving"),
          park: working && !!t && (t.status === "called" || t.status === "serving"),
          returnParked: working && !t,
          pause: working && !t,
          resume: mayAct && st === "paused",
          close: mayAct && st !== "closed" && !t,
        },
      };
    };

    function btn(act, label, enabled, cls, extra) {
      return `<button type="button" class="btn ${cls || ""}" data-act="${act}" ${extra || ""} ${enabled && !desk.busy ? "" : "disabled"}>${label}</button>`;
    }
    function key(k) { return `<kbd>${k}</kbd>`; }

    /** Where the focus goes when the control it was on is gone or disabled after a redraw: the ticket
     *  in hand, else the primary action, else a parked ticket to take back, else the panel itself. */
    desk.focusFallbacks = ["#current-number", "button[data-act=call-next]", "button[data-act=resume]",
      "button[data-act=open]", "#parked button[data-return]", "button[data-act=pause]"];
    desk.render = function () {
      const keep = N.focusKey(root);
      draw();
      N.refocus(root, keep, desk.focusFallbacks.concat([root]));
    };
    function draw() {
      const x = desk.ctx();
      if (!x) { N.morph(root, ""); return; }
      const { c, t, can, snap } = x;
      const limit = snap.recall_limit;
      // The ticket (or the counter's situation).
      let ticket;
      if (c.state === "closed" || !x.mayAct) {
        const text = c.operator && !x.held && !x.sup
          ? N.t("held_by_other", { n: c.number, who: c.operator }) : N.t("not_held", { n: c.number });
        ticket = `<div class="ticket empty"><div class="hint">${N.esc(c.state === "closed" ? N.t("closed_text") : "")}</div>
                  <p class="big-hint">${N.esc(text)}</p></div>`;
      } else if (c.state === "paused") {
        ticket = `<div class="ticket paused"><div class="state-line">${N.esc(N.t("paused_since", { reason: window.novbePauseReason(c.reason, N.lang) }))}</div>
                  <div class="timer" data-since="${c.since}">${N.fmtDuration(N.serverNow() - c.since)}</div>
                  <div class="since">${N.esc(N.t("since_clock", { t: N.fmtClock(c.since) }))}</div></div>`;
      } else if (t) {
        const since = t.status === "serving" && t.started_at ? t.started_at : t.called_at;
        const moved = t.original_service && t.original_service !== t.service;
        ticket = `<div class="ticket ${t.status}">
            <div class="num" id="current-number" tabindex="-1" aria-describedby="current-status">${N.esc(t.number)}</div>
            <div class="meta">
              <div class="state-line" id="current-status"><span class="badge ${t.status}">${N.esc(N.t("status_" + t.status))}</span>
                ${t.status === "called" ? `<span class="recalls ${t.recalls >= limit ? "at-limit" : ""}">${N.esc(N.t("recall_count", { n: t.recalls, max: limit }))}</span>` : ""}</div>
              <div class="svc">${N.esc(N.serviceName(t.service, t.service_name))}${moved ? ` <small>← ${N.esc(N.serviceName(t.original_service))}</small>` : ""}</div>
              <div class="timer" data-since="${since}">${N.fmtDuration(N.serverNow() - since)}</div>
              ${t.priority ? `<div class="prio">★ ${N.esc(N.groupName(t.priority))}${t.priority_verified_by
                ? ` <span class="verified">✓ ${N.esc(N.t("verified_by", { who: t.priority_verified_by }))}</span>`
                : ` <button type="button" class="btn tiny" data-verify="${N.esc(t.number)}" ${x.mayAct ? "" : "disabled"}>${N.esc(N.t("verify"))}</button>`}</div>` : ""}
              ${t.note ? `<div class="note">${N.esc(N.t("transferred_note", { note: t.note }))}</div>` : ""}
            </div></div>`;
      } else {
        ticket = `<div class="ticket empty"><div class="hint">${N.esc(N.t("no_ticket"))}</div>
                  <p class="big-hint">${N.esc(x.limitReached ? N.t("limit_reached") : x.waiting.length ? N.t("press_next") : N.t("nothing_to_call"))}</p>
                  <div class="idle">${N.esc(N.t("idle_for"))} <span data-since="${c.since}">${N.fmtDuration(N.serverNow() - c.since)}</span></div></div>`;
      }
      // The primary action: open, resume or call next.
      let primary;
      if (c.state === "closed" || !x.mayAct) {
        primary = btn("open", `${N.esc(N.t("open_counter"))}`, can.open, "primary huge");
      } else if (c.state === "paused") {
        primary = btn("resume", `${N.esc(N.t("resume"))}`, can.resume, "primary huge");
      } else {
        primary = btn("call-next", `${N.esc(N.t("call_next"))} ${key("F2")}`, can.callNext, "call huge");
      }
      const recallAtLimit = t && t.recalls >= limit;
      const outcomes = snap.outcomes.map((o, i) =>
        btn("finish", `${N.esc(N.outcome(o))}${opts.compact ? "" : " " + key("F" + (5 + i))}`, can.finish, i === 0 ? "ok" : "", `data-outcome="${N.esc(o)}"`)).join("");
      // Patched in place (N.morph): a press on a button that straddles the next snapshot is still its click.
      N.morph(root, `
        ${ticket}
        <div class="actions">
          ${primary}
          <div class="row three">
            ${btn("recall", `${N.esc(N.t("recall"))} ${key("F3")}`, can.recall, recallAtLimit ? "warn" : "")}
            ${btn("start", `${N.esc(N.t("start"))} ${key("F4")}`, can.start, "go")}
            ${btn("no-show", `${N.esc(N.t("no_show"))} ${key("Alt+N")}`, can.noShow, "danger")}
          </div>
          <div class="finish-row"><span class="label">${N.esc(N.t("finish_with"))}</span><div class="row outcomes">${outcomes}</div></div>
          <div class="row two">
            ${btn("transfer", `<span aria-hidden="true">⇄</span> ${N.esc(N.t("transfer"))} ${key("Alt+T")}`, can.transfer, "")}
            ${btn("park", `<span aria-hidden="true">‖</span> ${N.esc(N.t("park"))} ${key("Alt+P")}`, can.park, "")}
          </div>
          <div class="row foot">
            ${btn("pause", `<span aria-hidden="true">☕</span> ${N.esc(N.t("pause"))} ${key("Alt+B")}`, can.pause, "small")}
            ${btn("close", `${N.esc(N.t("close_counter"))} ${key("Alt+C")}`, can.close, "small danger-outline")}
            ${opts.extraFoot ? opts.extraFoot(x) : ""}
          </div>
        </div>`);
    }

    // --- actions ----------------------------------------------------------------------------
    async function post(action, body) {
      const n = desk.counter;
      return N.api("POST", `/api/counters/${n}/${action}`, body === undefined ? undefined : body);
    }

    desk.act = async function (action, data) {
      const x = desk.ctx();
      if (!x || desk.busy) return;
      const { c, t } = x;
      // The control acted on (or, for a shortcut, wherever the focus was) keeps the focus afterwards.
      const keep = N.focusKey(opts.focusScope || root);
      const redraw = () => {
        if (opts.rerender) opts.rerender(); else draw();
        N.refocus(opts.focusScope || root, keep || "", desk.focusFallbacks.concat([root]));
      };
      try {
        if (action === "no-show" && !(await N.confirm({ title: N.t("no_show"), text: N.t("confirm_no_show", { n: t.number }), yes: N.t("no_show"), danger: true }))) return;
        if (action === "close" && !(await N.confirm({ title: N.t("confirm_close", { n: c.number }), text: N.t("confirm_close_text"), yes: N.t("close_counter"), danger: true }))) return;
        if (action === "recall" && t && t.recalls >= x.snap.recall_limit) {
          if (await N.confirm({ title: N.t("recall"), text: N.t("recall_limit_q", { n: t.number, max: x.snap.recall_limit }), yes: N.t("no_show"), danger: true })) {
            action = "no-show";
          } else return;
        }
        let body;
        if (action === "pause") {
          const reason = await pauseDialog();
          if (!reason) return;
          body = { reason };
        } else if (action === "transfer") {
          body = await transferDialog(x);
          if (!body) return;
        } else if (action === "finish") {
          body = { outcome: data.outcome };
        } else if (action === "call" || action === "return") {
          body = { number: data.number };
        }
        desk.busy = true;
        redraw();
        const r = await post(action, body);
        if (action === "call-next" && !r.number) N.toast(N.t("nothing_to_call"), "info");
        if (opts.onDone) opts.onDone(action, r);
      } catch (e) {
        N.showError(e);
      } finally {
        desk.busy = false;
        redraw();
        N.live.request();
      }
    };

    root.addEventListener("click", (ev) => {
      const v = ev.target.closest("button[data-verify]");
      if (v && !v.disabled) { v.disabled = true; N.verifyPriority(v.dataset.verify); return; }
      const b = ev.target.closest("button[data-act]");
      if (!b || b.disabled) return;
      desk.act(b.dataset.act, { outcome: b.dataset.outcome });
    });

    /** Keyboard shortcuts: F2 call next, F3 recall, F4 start, F5… finish with the n-th outcome; Alt+N no-show,
     *  Alt+T transfer, Alt+P park, Alt+B pause or resume, Alt+C close (by key position: any keyboard layout).
     *  A shortcut key is always kept from the browser (F5 never reloads the page), even while a dialog is open. */
    desk.handleKey = function (ev) {
      const x = desk.ctx();
      if (!x || ev.ctrlKey || ev.metaKey) return false;
      const can = x.can;
      let hit;
      if (ev.altKey) {
        hit = { KeyN: ["no-show", can.noShow], KeyT: ["transfer", can.transfer], KeyP: ["park", can.park],
          KeyB: x.c.state === "paused" ? ["resume", can.resume] : ["pause", can.pause], KeyC: ["close", can.close] }[ev.code];
      } else if (!ev.shiftKey) {
        const map = { F2: ["call-next", can.callNext], F3: ["recall", can.recall], F4: ["start", can.start] };
        x.snap.outcomes.forEach((o, i) => { map["F" + (5 + i)] = ["finish", can.finish, o]; });
        hit = map[ev.key];
      }
      if (!hit) return false;
      ev.preventDefault();
      if (N.dialogOpen() || desk.busy) return true;
      if (hit[1]) desk.act(hit[0], { outcome: hit[2] });
      return true;
    };

    // --- dialogs ----------------------------------------------------------------------------
    function pauseDialog() {
      const dlg = document.getElementById("pause-dialog");
      const list = dlg.querySelector(".presets");
      list.innerHTML = PAUSE_PRESETS.map((k) =>
        `<button type="button" class="btn preset" data-reason="${N.esc(window.NOVBE_TEXTS.az[k])}">${N.esc(N.t(k))}</button>`).join("");
      const input = dlg.querySelector("input[name=reason]");
      const error = document.getElementById("pause-error");
      input.value = "";
      error.textContent = "";
      input.oninput = () => { error.textContent = ""; };
      N.applyI18n(dlg);
      return new Promise((resolve) => {
        let answer = null;
        list.onclick = (ev) => {
          const b = ev.target.closest("button[data-reason]");
          if (b) { answer = b.dataset.reason; dlg.close(); }
        };
        dlg.querySelector("form").onsubmit = (ev) => {
          ev.preventDefault();
          if (input.value.trim()) { answer = input.value.trim(); dlg.close(); return; }
          // "Pause" with no reason: say what is missing rather than do nothing
          error.textContent = N.t("pause_reason_missing");
          input.focus();
        };
        dlg.querySelector("[data-cancel]").onclick = () => dlg.close();
        whenClosed(dlg, () => resolve(answer));
        dlg.showModal();
      });
    }

    /** Run ``fn`` once ``dlg`` has closed. A "close" event arrives a task after the closing: one left over
     *  from the dialog's previous opening finds it open again and is not this opening's end. */
    function whenClosed(dlg, fn) {
      const onClose = () => {
        if (dlg.open) return;
        dlg.removeEventListener("close", onClose);
        fn();
      };
      dlg.addEventListener("close", onClose);
    }

    async function transferDialog(x) {
      await N.loadCatalog();
      const dlg = document.getElementById("transfer-dialog");
      const form = dlg.querySelector("form");
      dlg.querySelector(".dlg-title").textContent = N.t("transfer_title", { n: x.t.number });
      N.applyI18n(dlg);
      const svcSel = form.service, ctrSel = form.counter;
      svcSel.innerHTML = `<option value="">${N.esc(N.t("choose_service"))}</option>` + N.catalog.areas.map((a) => {
        const opts = N.catalog.services.filter((s) => s.area === a.code && s.code !== x.t.service)
          .map((s) => `<option value="${N.esc(s.code)}">${N.esc(s.code)} · ${N.esc(N.name(s.name))}</option>`).join("");
        return opts ? `<optgroup label="${N.esc(N.name(a.name))}">${opts}</optgroup>` : "";
      }).join("");
      ctrSel.innerHTML = `<option value="">${N.esc(N.t("choose_counter"))}</option>` + x.snap.counters
        .filter((c) => c.number !== x.c.number)
        .map((c) => `<option value="${c.number}">${N.esc(N.counterName(c))} · ${N.esc(N.t("state_" + c.state))}</option>`).join("");
      form.reset();
      form.kind.value = "service";
      const sync = () => {
        const toService = form.kind.value === "service";
        svcSel.disabled = !toService;
        ctrSel.disabled = toService;
        form.querySelector("[type=submit]").disabled = !(toService ? svcSel.value : ctrSel.value);
      };
      form.onchange = sync;
      form.oninput = sync;
      sync();
      return new Promise((resolve) => {
        let answer = null;
        form.onsubmit = (ev) => {
          ev.preventDefault();
          const note = form.note.value.trim() || null;
          answer = form.kind.value === "service" ? { service: svcSel.value, note } : { counter: Number(ctrSel.value), note };
          dlg.close();
        };
        dlg.querySelector("[data-cancel]").onclick = () => dlg.close();
        whenClosed(dlg, () => resolve(answer));
        dlg.showModal();
        svcSel.focus();
      });
    }

    return desk;
  };

  /** Record that a ticket's priority documents were checked (any staff member). */
  N.verifyPriority = async function (number) {
    try {
      await N.api("POST", "/api/tickets/verify-priority", { number });
      N.toast(N.t("saved"), "ok");
    } catch (e) {
      N.showError(e);
    } finally {
      N.live.request();
    }
  };
})();
