/* The admin page (/counter/admin): staff accounts and device tokens, and the log of every change.
   Everything goes through the same API as `novbe user …` / `novbe device …` (server/auth.py):
   the server checks the admin role, refuses devices the center file does not list, keeps the last
   enabled admin, ends an account's sessions when it changes, and records each change. A device
   token is shown here once, in a dialog, and never again (the server keeps only its hash). */
"use strict";

(function () {
  const N = window.Novbe;
  const $ = (id) => document.getElementById(id);
  const BOOT = JSON.parse($("admin-boot").textContent);
  let users = [], devices = [];

  function show(view) {
    for (const v of ["login-view", "forbidden-view", "admin-view"]) $(v).hidden = v !== view;
  }
  const isAdmin = () => !!N.user && N.user.role === "admin";

  /** A code in the reader's language (``prefix + code`` in the texts), or the code itself if it has none. */
  function named(prefix, code) {
    if (code == null || code === "") return "";
    const s = N.t(prefix + code);
    return s === prefix + code ? String(code) : s;
  }
  function showUser() {
    N.showUser();
    if (N.user) $("who").textContent = `${N.user.username} · ${named("role_", N.user.role)}`;
  }
  const dayFmt = {};
  function fmtDay(epoch) {
    if (!epoch) return "—";
    const f = (dayFmt[N.lang] = dayFmt[N.lang] || new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Baku" }));
    return f.format(new Date(epoch * 1000));
  }
  const fmtWhen = (epoch) => (epoch ? `${fmtDay(epoch)} ${N.fmtClock(epoch)}` : N.t("adm_never"));
  const deviceLabel = (d) => `${named("dev_kind_", d.kind)} ${d.name}`;

  /** A password a person can read out and type: 12 letters and digits without look-alikes. */
  function generatePassword() {
    const alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789";
    const bytes = crypto.getRandomValues(new Uint8Array(12));
    return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join("");
  }

  // The answer to a dialog redraws the tables (innerHTML): the button that opened it is gone, and closing
  // the dialog would drop the focus to <body>. The focus goes back to the same row's control instead:
  // the same action, or the one that took its place (disable → enable, revoke → make a token …).
  const SUCCESSOR = { disable: "enable", enable: "disable", create: "rotate", revoke: "create" };
  /** A function that puts the focus back on the control focused now, found again after a redraw
   *  (the table bodies stay; their rows are drawn again). */
  function opener() {
    const a = document.activeElement;
    const tr = a && a.closest ? a.closest("tr[data-user], tr[data-name]") : null;
    if (!tr) return () => { if (a && a.isConnected && !N.dialogOpen()) a.focus(); };
    const row = tr.dataset.user != null ? `#users tr[data-user="${CSS.escape(tr.dataset.user)}"]`
      : `#devices tr[data-kind="${CSS.escape(tr.dataset.kind)}"][data-name="${CSS.escape(tr.dataset.name)}"]`;
    const act = a.dataset.act, isRole = a.matches("select.role-pick");
    const body = tr.parentElement, index = Array.prototype.indexOf.call(body.rows, tr);
    return () => {
      if (N.dialogOpen()) return;
      // A row that is gone (a token revoked from a screen the center file does not list): the row now in its place.
      const r = document.querySelector(row) || body.rows[Math.min(index, body.rows.length - 1)];
      if (!r) return;
      const usable = (el) => !!el && !el.disabled;
      const el = [isRole ? "select.role-pick" : null, act ? `[data-act="${act}"]` : null,
                  SUCCESSOR[act] ? `[data-act="${SUCCESSOR[act]}"]` : null, "button:not(:disabled)"]
        .filter(Boolean).map((sel) => r.querySelector(sel)).find(usable);
      if (el && el !== document.activeElement) el.focus();
    };
  }
  let afterToken = null;   // where the focus goes when the token dialog closes

  // --- staff accounts -----------------------------------------------------------------------------
  function renderUsers() {
    const me = N.user && N.user.username;
    $("users").querySelector("tbody").innerHTML = users.map((u) => {
      const self = u.username === me;
      const roles = ["operator", "supervisor", "admin"].map((r) =>
        `<option value="${r}" ${r === u.role ? "selected" : ""}>${N.esc(named("role_", r))}</option>`).join("");
      return `<tr data-user="${N.esc(u.username)}" class="${u.disabled ? "off" : ""}">
        <td><b>${N.esc(u.username)}</b>${self ? ` <span class="muted">(${N.esc(N.t("adm_you"))})</span>` : ""}</td>
        <td><select class="role-pick" aria-label="${N.esc(N.t("col_role") + ": " + u.username)}" ${self ? "disabled" : ""}>${roles}</select></td>
        <td><span class="badge ${u.disabled ? "closed" : "open"}">${N.esc(N.t(u.disabled ? "adm_disabled" : "adm_active"))}</span></td>
        <td>${N.esc(fmtDay(u.created_at))}</td>
        <td class="acts"><button type="button" class="btn tiny" data-act="password">${N.esc(N.t("adm_new_password"))}</button>
          ${self ? "" : `<button type="button" class="btn tiny ${u.disabled ? "ok" : "danger-outline"}" data-act="${u.disabled ? "enable" : "disable"}">${N.esc(N.t(u.disabled ? "adm_enable" : "adm_disable"))}</button>`}</td></tr>`;
    }).join("");
  }

  async function changeUser(username, change, toast) {
    try {
      await N.api("PATCH", `/api/users/${encodeURIComponent(username)}`, change);
      N.toast(toast || N.t("adm_saved_for", { u: username }), "ok");
      return true;
    } catch (e) {
      N.showError(e);
      return false;
    } finally {
      await loadAll();
    }
  }

  function passwordDialog(username, back) {
    const dlg = $("password-dialog");
    const form = dlg.querySelector("form");
    dlg.querySelector(".dlg-title").textContent = N.t("adm_password_title", { u: username });
    N.applyI18n(dlg);
    form.password.value = "";
    dlg.querySelector("[data-cancel]").onclick = () => dlg.close();
    dlg.onclose = back;
    dlg.querySelector("[data-generate]").onclick = () => { form.password.value = generatePassword(); form.password.select(); };
    form.onsubmit = async (ev) => {
      ev.preventDefault();
      if (!form.reportValidity()) return;
      const password = form.password.value;
      dlg.close();
      form.password.value = "";
      await changeUser(username, { password });
      back();
    };
    dlg.showModal();
    form.password.focus();
  }

  $("users").addEventListener("click", async (ev) => {
    const b = ev.target.closest("button[data-act]");
    if (!b) return;
    const username = b.closest("tr").dataset.user;
    const back = opener();
    if (b.dataset.act === "password") { passwordDialog(username, back); return; }
    const disable = b.dataset.act === "disable";
    const yes = await N.confirm({ title: username, text: N.t(disable ? "adm_confirm_disable" : "adm_confirm_enable", { u: username }),
                                  yes: N.t(disable ? "adm_disable" : "adm_enable"), danger: disable });
    if (yes) await changeUser(username, { disabled: disable });
    back();
  });
  $("users").addEventListener("change", async (ev) => {
    const pick = ev.target.closest("select.role-pick");
    if (!pick) return;
    const username = pick.closest("tr").dataset.user;
    const role = pick.value;
    const back = opener();
    const yes = await N.confirm({ title: username, text: N.t("adm_confirm_role", { u: username, role: named("role_", role) }) });
    if (yes) await changeUser(username, { role });
    else renderUsers();
    back();
  });

  const userForm = $("user-form");
  userForm.querySelector("[data-generate]").addEventListener("click", () => {
    userForm.password.value = generatePassword();
    checkUser();
  });
  /* The server's rules for a name and a password (from the page's boot data), checked as one types: a
     refusal is explained in the page's language, under the form and in the browser's bubble, instead of
     the browser's own English "Please match the requested format". */
  const USERNAME = new RegExp(BOOT.username_pattern, "u");
  const userError = $("user-error");
  function checkUser() {
    const name = userForm.username.value.trim(), pw = userForm.password.value;
    userForm.username.setCustomValidity(!name ? N.t("adm_username_empty") : USERNAME.test(name) ? "" : N.t("adm_username_rule"));
    userForm.password.setCustomValidity(pw.length >= BOOT.password_min ? "" : N.t("adm_password_short", { n: BOOT.password_min }));
    if (userError.textContent && userForm.checkValidity()) userError.textContent = "";
  }
  for (const input of [userForm.username, userForm.password]) {
    input.addEventListener("input", checkUser);
    // the first control refused says why (the browser fires "invalid" at each one, in order)
    input.addEventListener("invalid", () => {
      if (input === userForm.querySelector(":invalid")) userError.textContent = input.validationMessage;
    });
  }
  N.onLang.push(() => { checkUser(); if (userError.textContent) userForm.checkValidity(); });
  checkUser();
  userForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const username = userForm.username.value.trim();
    const btn = userForm.querySelector("button[type=submit]");
    btn.disabled = true;
    try {
      await N.api("POST", "/api/users", { username, password: userForm.password.value, role: userForm.role.value, only_new: true });
      N.toast(N.t("adm_user_created", { u: username }), "ok");
      userForm.reset();
      checkUser();
      userError.textContent = "";
    } catch (e) {
      N.showError(e);
    } finally {
      btn.disabled = false;
      await loadAll();
    }
  });

  // --- devices --------------------------------------------------------------------------------------
  function renderDevices() {
    $("devices").querySelector("tbody").innerHTML = devices.map((d) => {
      const acts = [];
      if (d.state === "no_token") acts.push(`<button type="button" class="btn tiny primary" data-act="create">${N.esc(N.t("adm_make_token"))}</button>`);
      if (d.state === "ok") acts.push(`<button type="button" class="btn tiny" data-act="rotate">${N.esc(N.t("adm_rotate"))}</button>`);
      if (d.token) acts.push(`<button type="button" class="btn tiny danger-outline" data-act="revoke">${N.esc(N.t("adm_revoke"))}</button>`);
      const badge = d.state === "ok" ? "open" : d.state === "refused" ? "refused" : "closed";
      return `<tr data-kind="${N.esc(d.kind)}" data-name="${N.esc(d.name)}" data-state="${N.esc(d.state)}">
        <td>${N.esc(named("dev_kind_", d.kind))}</td><td><b>${N.esc(d.name)}</b></td>
        <td><span class="badge ${badge}">${N.esc(named("adm_state_", d.state))}</span></td>
        <td>${d.token ? N.esc(fmtDay(d.created_at)) : "—"}</td>
        <td>${d.token ? N.esc(fmtWhen(d.last_seen)) : "—"}</td>
        <td class="acts">${acts.join(" ")}</td></tr>`;
    }).join("");
  }

  function deviceAddress(kind, name, token) {
    const base = (BOOT.base_url || location.origin).replace(/\/+$/, "");
    const t = encodeURIComponent(token);
    if (kind === "kiosk") return `${base}/kiosk/?token=${t}`;
    if (kind === "display") return `${base}/display/?board=${encodeURIComponent(name)}&token=${t}`;
    return `${base}/rate/?counter=${encodeURIComponent(name.replace(/^counter-/, ""))}&token=${t}`;
  }

  function tokenDialog(kind, name, token) {
    const dlg = $("token-dialog");
    N.applyI18n(dlg);
    dlg.querySelector(".dlg-title").textContent = N.t("adm_token_title", { d: `${named("dev_kind_", kind)} ${name}` });
    $("token-address").value = deviceAddress(kind, name, token);
    $("token-value").value = token;
    // The token leaves the page with the dialog: it is not kept anywhere else.
    const back = afterToken;
    afterToken = null;
    const forget = () => {
      $("token-address").value = ""; $("token-value").value = ""; dlg.removeEventListener("close", forget);
      if (back) back();
    };
    dlg.addEventListener("close", forget);
    dlg.querySelector("[data-cancel]").onclick = () => { dlg.close(); forget(); };   // closed first: then the focus can go back
    dlg.showModal();
    $("token-address").select();
  }
  $("token-copy").addEventListener("click", async () => {
    const area = $("token-address");
    area.select();
    try {
      await navigator.clipboard.writeText(area.value);
      N.toast(N.t("adm_copied"), "ok");
    } catch (e) {
      document.execCommand("copy");   // a page served over plain http on the LAN has no clipboard API
    }
  });

  async function issueToken(kind, name) {
    try {
      const r = await N.api("POST", "/api/devices", { kind, name });
      tokenDialog(r.kind, r.name, r.token);
      return true;
    } catch (e) {
      N.showError(e);
      return false;
    } finally {
      await loadAll();
    }
  }

  $("devices").addEventListener("click", async (ev) => {
    const b = ev.target.closest("button[data-act]");
    if (!b) return;
    const tr = b.closest("tr");
    const { kind, name } = tr.dataset;
    const label = `${named("dev_kind_", kind)} ${name}`;
    const back = opener();
    afterToken = back;
    if (b.dataset.act === "create" || b.dataset.act === "rotate") {
      if (b.dataset.act === "create" || await N.confirm({ title: label, text: N.t("adm_confirm_rotate", { d: label }),
                                                          yes: N.t("adm_rotate") })) await issueToken(kind, name);
      afterToken = null;   // used by the token dialog, or not needed (refused, or "no")
      back();
      return;
    }
    afterToken = null;
    if (!(await N.confirm({ title: label, text: N.t("adm_confirm_revoke", { d: label }), yes: N.t("adm_revoke"), danger: true }))) { back(); return; }
    try {
      await N.api("DELETE", `/api/devices/${encodeURIComponent(kind)}/${encodeURIComponent(name)}`);
      N.toast(N.t("adm_revoked", { d: label }), "ok");
    } catch (e) {
      N.showError(e);
    } finally {
      await loadAll();
    }
    back();
  });

  const deviceForm = $("device-form");
  function suggestNames() {
    const kind = deviceForm.kind.value;
    const names = kind === "kiosk" ? BOOT.kiosks : kind === "display" ? BOOT.boards : BOOT.counters.map((n) => `counter-${n}`);
    $("device-names").innerHTML = names.map((n) => `<option value="${N.esc(n)}"></option>`).join("");
  }
  deviceForm.kind.addEventListener("change", suggestNames);
  deviceForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const kind = deviceForm.kind.value, name = deviceForm.name.value.trim();
    const held = devices.find((d) => d.kind === kind && d.name === name && d.token);
    if (held) {
      const label = `${named("dev_kind_", kind)} ${name}`;
      if (!(await N.confirm({ title: label, text: N.t("adm_confirm_rotate", { d: label }), yes: N.t("adm_rotate") }))) return;
    }
    if (await issueToken(kind, name)) deviceForm.name.value = "";
  });

  // --- the log of changes -----------------------------------------------------------------------------
  function renderAudit(events) {
    $("admin-audit").querySelector("tbody").innerHTML = events.length ? events.map((e) => {
      const subject = e.event === "device-changed" ? `${named("dev_kind_", e.kind)} ${e.device}`
        : e.username + (e.role ? ` (${named("role_", e.role)})` : "");
      return `<tr data-change="${N.esc(e.change)}"><td>${N.esc(fmtWhen(e.at))}</td><td>${N.esc(N.actorName(e))}</td>
        <td>${N.esc(named("adm_change_", e.change))}</td><td>${N.esc(subject)}</td></tr>`;
    }).join("") : `<tr><td colspan="4" class="muted">${N.esc(N.t("adm_no_changes"))}</td></tr>`;
  }

  let lastAudit = [];
  async function loadAll() {
    try {
      const [u, d, a] = await Promise.all([N.api("GET", "/api/users"), N.api("GET", "/api/devices"), N.api("GET", "/api/admin/audit")]);
      users = u.users;
      devices = d.devices;
      lastAudit = a.events;
      render();
    } catch (e) {
      if (e.status !== 401) N.showError(e);
    }
  }
  $("audit-refresh").addEventListener("click", loadAll);

  function render() {
    if (!N.user) { show("login-view"); return; }
    if (!isAdmin()) { show("forbidden-view"); return; }
    show("admin-view");
    const keep = opener();   // a redraw under the focused control keeps it (the same row's control)
    renderUsers();
    renderDevices();
    renderAudit(lastAudit);
    keep();
  }

  $("logout").addEventListener("click", async () => {
    await N.logout();
    showUser();
    show("login-view");
  });
  N.onLang.push(() => { showUser(); render(); });
  N.onLoggedOut.push(() => {
    N.user = null;
    showUser();
    show("login-view");
  });

  function start() {
    showUser();
    render();
    if (!isAdmin()) return;
    suggestNames();
    loadAll();
  }

  N.chrome();
  N.loginForm(start);
  N.me().then((u) => (u ? start() : show("login-view"))).catch((e) => { show("login-view"); N.showError(e); });
})();
