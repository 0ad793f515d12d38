// ecslite console: live views, the Reinstall OS / Change OS / Delete dialogs, key pairs.
// No dependencies.
//
// Every live view gets its data through watch(). A page opens ONE EventSource on the console's
// copy of the event stream (/console/api/events: the API's GET /v1/{project_id}/events for the
// session's project) and dispatches its events to the subscribed topics. The payloads are the
// API's own shapes (ShowServer, the GET-job JSON), so the renderers are the same whether data
// came from the stream or from the JSON endpoints the page falls back to polling when the
// stream keeps failing.

const prefix = document.body.dataset.prefix || "/console";
const POLL_MS = 1000;
// Errors in a row (no message in between) after which the page gives up the stream and polls.
const STREAM_FAILURES = 3;
const RECENT = 20;
const TERMINAL = new Set(["SUCCESS", "FAIL"]);

const hub = { source: null, subs: new Set(), failures: 0, polling: false };

function setLive(ok) {
  document.getElementById("live")?.classList.toggle("stale", !ok);
}

async function getJson(url) {
  const resp = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  if (resp.status === 401) { location.href = `${prefix}/login`; throw new Error("logged out"); }
  if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
  return resp.json();
}

function pollUrl(topic) {
  if (topic.servers) return `${prefix}/api/servers`;
  if (topic.server && !topic.jobs) return `${prefix}/api/servers/${encodeURIComponent(topic.server)}`;
  if (topic.job) return `${prefix}/api/jobs/${encodeURIComponent(topic.job)}`;
  return `${prefix}/api/jobs` + (topic.server ? `?server_id=${encodeURIComponent(topic.server)}` : "");
}

function byName(a, b) {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

// What a subscription keeps to turn single events into its topic's payload. ``initial`` is
// what the page was rendered with (list topics), so the first events need no extra read.
function makeSub(topic, onData, initial) {
  const sub = { topic, onData, stopped: false, fresh: false };
  const deliver = (data) => { if (!sub.stopped && onData(data) === false) unsubscribe(sub); };
  sub.deliver = deliver;
  if (topic.servers) {
    const rows = new Map((initial?.servers || []).map((s) => [s.id, s]));
    let refetching = null;
    const emit = () => deliver({ servers: [...rows.values()].sort(byName) });
    // A deleted server sends no event of its own; its job's end does: re-read the list once.
    sub.resync = () => {
      refetching ??= getJson(pollUrl(topic)).then((d) => {
        rows.clear();
        for (const s of d.servers) rows.set(s.id, s);
        emit();
      }).catch(() => {}).finally(() => { refetching = null; });
    };
    sub.onServer = (s) => { rows.set(s.id, s); emit(); };
    sub.onJob = (job) => { if (TERMINAL.has(job.status)) sub.resync(); };
  } else if (topic.server && !topic.jobs) {
    sub.onServer = (s) => { if (s.id === topic.server) deliver({ server: s }); };
  } else if (topic.job) {
    sub.onJob = (job) => { if (job.job_id === topic.job) { sub.fresh = true; deliver(job); } };
    // Events sent before the page knew the job id went by: read its state once.
    sub.start = () => getJson(pollUrl(topic)).then((job) => { if (!sub.fresh) deliver(job); }).catch(() => {});
  } else {
    let jobs = initial?.jobs || [];
    sub.onJob = (job) => {
      if (topic.server && job.entities?.server_id !== topic.server) return;
      const i = jobs.findIndex((j) => j.job_id === job.job_id);
      jobs = i >= 0 ? jobs.map((j, k) => (k === i ? job : j)) : [job, ...jobs].slice(0, RECENT);
      deliver({ jobs });
    };
    sub.resync = () => getJson(pollUrl(topic)).then((d) => { jobs = d.jobs; deliver({ jobs }); }).catch(() => {});
  }
  return sub;
}

function unsubscribe(sub) {
  sub.stopped = true;
  hub.subs.delete(sub);
}

function dispatch(kind, data) {
  for (const sub of [...hub.subs]) {
    if (kind === "server" && sub.onServer) sub.onServer(data.server);
    else if (kind === "job" && sub.onJob) sub.onJob(data);
  }
}

function openStream() {
  // The browser reconnects by itself after a dropped connection and sends Last-Event-ID, so
  // the stream resumes with every event it missed.
  const source = new EventSource(`${prefix}/api/events`);
  hub.source = source;
  let opened = false;
  source.addEventListener("open", () => {
    setLive(true);
    // The first connection: what changed between rendering the page and now (a job that
    // ended, a server deleted) is read once. Reconnections resume from Last-Event-ID instead.
    if (!opened) for (const sub of hub.subs) sub.resync?.();
    opened = true;
  });
  for (const kind of ["server", "job"]) {
    source.addEventListener(kind, (e) => {
      hub.failures = 0;
      setLive(true);
      dispatch(kind, JSON.parse(e.data));
    });
  }
  source.addEventListener("error", () => {
    setLive(false);
    hub.failures += 1;
    // CLOSED: the browser gave up (e.g. 401 after logout); or it keeps failing to reconnect.
    if (source.readyState === EventSource.CLOSED || hub.failures >= STREAM_FAILURES) {
      source.close();
      hub.source = null;
      hub.polling = true;
      for (const sub of hub.subs) poll(sub);
    }
  });
}

// The fallback: read the topic's JSON endpoint once a second.
function poll(sub) {
  const url = pollUrl(sub.topic);
  async function tick() {
    if (sub.stopped) return;
    // A hidden tab costs the service nothing while polling; it catches up when shown again.
    if (document.visibilityState === "hidden") { setTimeout(tick, POLL_MS); return; }
    try {
      sub.deliver(await getJson(url));
      setLive(true);
    } catch (err) {
      setLive(false);
    }
    setTimeout(tick, POLL_MS);
  }
  setTimeout(tick, POLL_MS);
}

// topic: {servers: true} | {server: id} | {job: id} | {jobs: true, server?: id}
// onData gets {servers: [...]}, {server: {...}}, a job, or {jobs: [...]}; return false to stop.
// initial: the payload the page was rendered with (list topics), the base events update.
export function watch(topic, onData, initial) {
  const sub = makeSub(topic, onData, initial);
  hub.subs.add(sub);
  if (hub.polling || typeof EventSource === "undefined") {
    hub.polling = true;
    poll(sub);
  } else {
    if (!hub.source) openStream();
    sub.start?.();
  }
  return () => unsubscribe(sub);
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "dataset") Object.assign(node.dataset, v);
    else if (v !== null && v !== undefined) node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
  return node;
}

function jsonData(id) {
  const node = document.getElementById(id);
  return node ? JSON.parse(node.textContent) : null;
}

function csrf() {
  return document.querySelector('meta[name="csrf-token"]')?.content || "";
}

async function send(method, path, body) {
  const resp = await fetch(`${prefix}/api${path}`, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = resp.status === 204 ? {} : await resp.json().catch(() => ({}));
  if (!resp.ok) {
    const e = data.error || {};
    throw Object.assign(new Error(e.message || `HTTP ${resp.status}`), { code: e.code || "" });
  }
  return data;
}

// ---- password rules: the API's rule set, rendered into the page by the server ----

export function checkPassword(pw, rules) {
  if (pw.length < rules.min || pw.length > rules.max) return `Must be ${rules.min}-${rules.max} characters.`;
  const specials = new Set(rules.specials);
  const isUpper = (c) => c >= "A" && c <= "Z";
  const isLower = (c) => c >= "a" && c <= "z";
  const isDigit = (c) => c >= "0" && c <= "9";
  for (const c of pw) {
    if (!(isUpper(c) || isLower(c) || isDigit(c) || specials.has(c))) {
      return `May contain only letters, digits and the special characters ${rules.specials}`;
    }
  }
  const chars = [...pw];
  const classes = [isUpper, isLower, isDigit, (c) => specials.has(c)].filter((f) => chars.some(f)).length;
  if (classes < rules.min_classes) {
    return `Must contain at least ${rules.min_classes} of: uppercase letters, lowercase letters, digits, special characters.`;
  }
  return null;
}

// ---- rendering ----

function statusBadge(status) {
  return el("span", { class: `status s-${String(status).toLowerCase()}`, dataset: { status } }, status);
}

function seconds(begin, end) {
  if (!begin) return "";
  const b = Date.parse(begin);
  const e = end ? Date.parse(end) : Date.now();
  if (Number.isNaN(b) || Number.isNaN(e)) return "";
  return `${((e - b) / 1000).toFixed(1)} s${end ? "" : " …"}`;
}

// A server with a job in flight accepts no other.
function busy(status) {
  return status === "REBUILD" || status === "DELETING" || status === "BUILD" || status === "REBOOT";
}

export function renderServers(tbody, servers) {
  tbody.replaceChildren(
    ...servers.map((s) => {
      const addrs = Object.entries(s.addresses || {})
        .map(([net, list]) => `${net}: ${list.map((a) => a.addr).join(", ")}`)
        .join("; ");
      const action = (what, label) => {
        const b = el("button", { type: "button", dataset: { action: what } }, label);
        b.disabled = busy(s.status);
        return b;
      };
      return el(
        "tr",
        { dataset: { serverId: s.id, name: s.name, status: s.status, image: s.image?.id || "" } },
        el("td", {}, el("a", { href: `${prefix}/servers/${s.id}` }, s.name)),
        el("td", {}, statusBadge(s.status)),
        el("td", { class: "task" }, s["OS-EXT-STS:task_state"] || "—"),
        el("td", {}, (s.metadata || {}).image_name || s.image.id),
        el("td", {}, s.flavor.name),
        el("td", { class: "key" }, s.key_name || "—"),
        el("td", {}, addrs || "—"),
        el("td", { class: "row-actions" }, action("reinstall", "Reinstall OS"), " ", action("changeos", "Change OS"), " ", action("delete", "Delete")),
      );
    }),
  );
}

// A bar per step on the job's own time axis: where it began and how long it took.
function timelineBar(step, start, span) {
  const track = el("span", { class: "track" });
  const b = Date.parse(step.begin_time || "");
  if (!Number.isNaN(b) && span > 0) {
    const e = step.end_time ? Date.parse(step.end_time) : Date.now();
    const bar = el("span", { class: "bar" });
    // CSSOM, not a style attribute: the page's CSP allows no inline styles.
    bar.style.left = `${Math.max(0, ((b - start) / span) * 100)}%`;
    bar.style.width = `${Math.max(0.5, ((e - b) / span) * 100)}%`;
    track.append(bar);
  }
  return track;
}

export function renderJob(job) {
  const subs = job.entities.sub_jobs || [];
  const start = Date.parse(job.begin_time || "");
  const end = job.end_time ? Date.parse(job.end_time) : Date.now();
  const span = Number.isNaN(start) ? 0 : end - start;
  const steps = subs.map((s) =>
    el(
      "li",
      { class: `step st-${s.status.toLowerCase()}`, dataset: { step: s.job_type, status: s.status } },
      el("span", { class: "name" }, s.job_type),
      " ",
      statusBadge(s.status),
      " ",
      timelineBar(s, start, span),
      " ",
      el("span", { class: "dur" }, seconds(s.begin_time, s.end_time)),
      s.fail_reason ? el("span", { class: "error" }, ` ${s.error_code || ""} ${s.fail_reason}`) : "",
    ),
  );
  const server = job.entities.server_id;
  return el(
    "article",
    { class: "job", dataset: { jobId: job.job_id, status: job.status } },
    el(
      "header",
      {},
      el("code", {}, job.job_id),
      " ",
      job.job_type,
      " ",
      server ? el("a", { href: `${prefix}/servers/${server}` }, "server") : "",
      " ",
      statusBadge(job.status),
      " ",
      el("span", { class: "dur" }, seconds(job.begin_time, job.end_time)),
    ),
    el("ol", { class: "steps" }, ...steps),
    job.fail_reason ? el("p", { class: "error" }, `${job.error_code || ""} ${job.fail_reason}`) : "",
  );
}

function renderJobs(container, jobs) {
  container.replaceChildren(...(jobs.length ? jobs.map(renderJob) : [el("p", { class: "hint" }, "No jobs yet.")]));
}

// ---- a job followed live inside a dialog ----

function show(node, text) { node.textContent = text || ""; node.hidden = !text; }

// Paint the job's steps into ``box`` (its [data-field] parts) until SUCCESS or FAIL; return
// the function that stops following.
function followJob(box, jobId, onEnd) {
  box.hidden = false;
  box.querySelector('[data-field="job-id"]').textContent = jobId;
  const paint = (job) => {
    box.querySelector('[data-field="job-status"]').replaceChildren(statusBadge(job.status));
    const art = renderJob(job);
    box.querySelector('[data-field="job-steps"]').replaceChildren(...art.querySelector("ol").children);
    show(box.querySelector('[data-field="job-reason"]'), job.fail_reason ? `${job.error_code || ""} ${job.fail_reason}` : "");
    if (TERMINAL.has(job.status)) { onEnd?.(job); return false; }
    return true;
  };
  paint({ job_id: jobId, status: "INIT", entities: { sub_jobs: [] } });
  return watch({ job: jobId }, paint);
}

// A dialog's "key pair or password" choice: shows the chosen part, checks the password as the
// user types (the API's rules, sent with the page) and tells whether it may be submitted.
function bindLogin(form, rules, pwError) {
  const loginMode = () => form.querySelector('input[name="login"]:checked').value;
  const syncLogin = () => {
    for (const div of form.querySelectorAll("[data-login]")) div.hidden = div.dataset.login !== loginMode();
  };
  const checkPw = () => {
    if (loginMode() !== "password") { show(pwError, ""); return true; }
    const msg = checkPassword(form.adminpass.value, rules);
    show(pwError, msg);
    return !msg;
  };
  form.addEventListener("change", (e) => { if (e.target.name === "login") { syncLogin(); checkPw(); } });
  form.adminpass.addEventListener("input", checkPw);
  return { loginMode, syncLogin, checkPw };
}

// ---- the Reinstall OS / Change OS dialog (one form; change OS adds the image) ----

const OS_MODES = {
  reinstall: { title: "Reinstall OS", submit: "Reinstall", path: "reinstall" },
  changeos: { title: "Change OS", submit: "Change OS", path: "changeos" },
};

function setupDialog() {
  const dialog = document.getElementById("reinstall");
  if (!dialog) return null;
  const form = document.getElementById("reinstall-form");
  const rules = jsonData("password-rules-data");
  const pwError = document.getElementById("password-error");
  const udError = document.getElementById("user-data-error");
  const error = document.getElementById("reinstall-error");
  const jobBox = document.getElementById("reinstall-job");
  const submit = form.querySelector('[data-action="submit"]');
  let serverId = null;
  let mode = "reinstall";
  let stopWatch = null;

  const { loginMode, syncLogin, checkPw } = bindLogin(form, rules, pwError);
  // Fields that need Cloud-Init (user data, its login choice, encryption) are offered only
  // for an image that has it: the server's own (reinstall) or the one chosen (change OS).
  const cloudInit = jsonData("image-cloud-init-data") || {};
  let serverImage = null;
  const syncCloudInit = () => {
    const image = mode === "changeos" ? form.image_id.value : serverImage;
    const ci = cloudInit[image] !== false;
    for (const part of form.querySelectorAll("[data-cloudinit-only]")) part.hidden = !ci;
    for (const part of form.querySelectorAll("[data-no-cloudinit]")) part.hidden = ci || mode !== "changeos";
    if (!ci && loginMode() === "none") { form.querySelector('input[name="login"][value="key"]').checked = true; syncLogin(); }
    return ci;
  };
  form.image_id?.addEventListener("change", syncCloudInit);
  form.user_data_file.addEventListener("change", async () => {
    const file = form.user_data_file.files[0];
    if (file) form.user_data.value = await file.text();
  });
  form.querySelector('[data-action="close"]').addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => { if (stopWatch) stopWatch(); });

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    show(error, ""); show(udError, "");
    if (!checkPw()) return;
    const login = loginMode();
    const ci = syncCloudInit();
    const body = {
      keyname: login === "key" ? form.keyname.value || null : null,
      adminpass: login === "password" ? form.adminpass.value : null,
      user_data: ci ? form.user_data.value || null : null,
      cmk_id: ci && form.encrypt.checked ? form.cmk_id.value : null,
      stop_first: form.stop_first.checked,
    };
    if (mode === "changeos") body.image_id = form.image_id.value;
    submit.disabled = true;
    try {
      const path = `/servers/${encodeURIComponent(serverId)}/${OS_MODES[mode].path}`;
      const { job_id } = await send("POST", path, body);
      // The choices are made; the dialog now shows the job.
      for (const part of form.querySelectorAll("fieldset, [data-running], .hint")) part.hidden = true;
      stopWatch = followJob(jobBox, job_id);
    } catch (err) {
      submit.disabled = false;
      const text = `${err.code} ${err.message}`.trim();
      if (/user_data|cloud-config/i.test(err.message)) show(udError, text);
      else show(error, text);
    }
  });

  return function open({ id, name, status, image }, how = "reinstall") {
    serverId = id;
    serverImage = image || null;
    mode = how;
    form.reset();
    syncLogin();
    show(pwError, ""); show(error, ""); show(udError, "");
    jobBox.hidden = true;
    for (const part of form.querySelectorAll("fieldset, .hint")) part.hidden = false;
    for (const part of form.querySelectorAll("[data-mode]")) part.hidden = part.dataset.mode !== mode;
    submit.disabled = false;
    submit.textContent = OS_MODES[mode].submit;
    dialog.querySelector('[data-field="title"]').textContent = OS_MODES[mode].title;
    dialog.querySelector('[data-field="server-name"]').textContent = name;
    form.querySelector("[data-running]").hidden = status !== "ACTIVE";
    syncCloudInit();
    dialog.showModal();
  };
}

// ---- the Reset password dialog ----

function setupPasswordDialog() {
  const dialog = document.getElementById("reset-password");
  if (!dialog) return null;
  const form = document.getElementById("reset-password-form");
  const rules = jsonData("password-rules-data");
  const pwError = document.getElementById("reset-password-rules");
  const error = document.getElementById("reset-password-error");
  const jobBox = document.getElementById("reset-password-job");
  const submit = form.querySelector('[data-action="submit"]');
  let serverId = null;
  let stopWatch = null;
  const checkPw = () => { const msg = checkPassword(form.adminpass.value, rules); show(pwError, msg); return !msg; };
  form.adminpass.addEventListener("input", checkPw);
  form.querySelector('[data-action="close"]').addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => { if (stopWatch) stopWatch(); });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    show(error, "");
    if (!checkPw()) return;
    submit.disabled = true;
    try {
      const path = `/servers/${encodeURIComponent(serverId)}/reset-password`;
      const { job_id } = await send("POST", path, { password: form.adminpass.value });
      form.adminpass.value = "";
      for (const part of form.querySelectorAll("fieldset, .hint")) part.hidden = true;
      stopWatch = followJob(jobBox, job_id);
    } catch (err) {
      submit.disabled = false;
      show(error, `${err.code} ${err.message}`.trim());
    }
  });
  return function open({ id, name }) {
    serverId = id;
    form.reset();
    show(pwError, ""); show(error, "");
    jobBox.hidden = true;
    for (const part of form.querySelectorAll("fieldset, .hint")) part.hidden = false;
    submit.disabled = false;
    dialog.querySelector('[data-field="server-name"]').textContent = name;
    dialog.showModal();
  };
}

// "Remote login": a one-time console URL, opened in a new window (noVNC, or the sim's page).
async function remoteLogin(id) {
  const error = document.getElementById("remote-login-error");
  show(error, "");
  try {
    const { url } = await send("POST", `/servers/${encodeURIComponent(id)}/remote-console`, {});
    window.open(url, "_blank", "noopener");
  } catch (err) {
    show(error, `${err.code} ${err.message}`.trim());
  }
}

// ---- the Delete dialog ----

function setupDeleteDialog(onDeleted) {
  const dialog = document.getElementById("delete");
  if (!dialog) return null;
  const form = document.getElementById("delete-form");
  const error = document.getElementById("delete-error");
  const jobBox = document.getElementById("delete-job");
  const submit = form.querySelector('[data-action="submit"]');
  let serverId = null;
  let stopWatch = null;
  form.querySelector('[data-action="close"]').addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => { if (stopWatch) stopWatch(); });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    show(error, "");
    submit.disabled = true;
    try {
      const { job_id } = await send("POST", `/servers/${encodeURIComponent(serverId)}/delete`, {
        delete_volume: form.delete_volume.checked,
      });
      for (const part of form.querySelectorAll("fieldset, .hint")) part.hidden = true;
      stopWatch = followJob(jobBox, job_id, (job) => { if (job.status === "SUCCESS") onDeleted?.(); });
    } catch (err) {
      submit.disabled = false;
      show(error, `${err.code} ${err.message}`.trim());
    }
  });
  return function open({ id, name }) {
    serverId = id;
    form.reset();
    show(error, "");
    jobBox.hidden = true;
    for (const part of form.querySelectorAll("fieldset, .hint")) part.hidden = false;
    submit.disabled = false;
    dialog.querySelector('[data-field="server-name"]').textContent = name;
    dialog.showModal();
  };
}

// ---- the Create dialog ----

function setupCreateDialog() {
  const dialog = document.getElementById("create");
  if (!dialog) return null;
  const form = document.getElementById("create-form");
  const rules = jsonData("password-rules-data");
  const pwError = document.getElementById("create-password-error");
  const error = document.getElementById("create-error");
  const jobBox = document.getElementById("create-job");
  const submit = form.querySelector('[data-action="submit"]');
  let stopWatch = null;
  const { loginMode, syncLogin, checkPw } = bindLogin(form, rules, pwError);
  form.querySelector('[data-action="close"]').addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => { if (stopWatch) stopWatch(); });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    show(error, "");
    if (!checkPw()) return;
    const login = loginMode();
    const size = form.data_disk_gb.value.trim();
    const body = {
      name: form.name.value.trim(),
      image_id: form.image_id.value,
      flavor_id: form.flavor_id.value,
      subnet_id: form.subnet_id.value,
      keyname: login === "key" ? form.keyname.value || null : null,
      adminpass: login === "password" ? form.adminpass.value : null,
      data_disk_gb: size ? Number(size) : null,
    };
    submit.disabled = true;
    try {
      const { job_id } = await send("POST", "/servers", body);
      for (const part of form.querySelectorAll("fieldset")) part.hidden = true;
      stopWatch = followJob(jobBox, job_id);
    } catch (err) {
      submit.disabled = false;
      show(error, `${err.code} ${err.message}`.trim());
    }
  });
  return function open() {
    form.reset();
    syncLogin();
    show(error, ""); show(pwError, "");
    jobBox.hidden = true;
    for (const part of form.querySelectorAll("fieldset")) part.hidden = false;
    submit.disabled = false;
    dialog.showModal();
  };
}

// ---- pages ----

function serversPage() {
  const tbody = document.querySelector("#servers tbody");
  const open = setupDialog();
  const openDelete = setupDeleteDialog();
  const openCreate = setupCreateDialog();
  document.getElementById("open-create").addEventListener("click", () => openCreate());
  const initial = jsonData("servers-data");
  renderServers(tbody, initial.servers);
  tbody.addEventListener("click", (e) => {
    const btn = e.target.closest("button[data-action]");
    if (!btn) return;
    const row = btn.closest("tr").dataset;
    const server = { id: row.serverId, name: row.name, status: row.status, image: row.image };
    if (btn.dataset.action === "delete") openDelete(server);
    else open(server, btn.dataset.action);
  });
  watch({ servers: true }, (data) => renderServers(tbody, data.servers), initial);
}

function serverPage() {
  const data = jsonData("server-data");
  const id = data.server.id;
  const jobs = document.getElementById("jobs");
  const buttons = [...document.querySelectorAll("#server-actions button[data-action]")];
  const open = setupDialog();
  const openDelete = setupDeleteDialog(() => { location.href = prefix; });
  const openPassword = setupPasswordDialog();
  let status = data.server.status;
  let image = data.server.image.id;
  renderJobs(jobs, data.jobs);
  for (const b of buttons) {
    b.addEventListener("click", () => {
      const server = { id, name: data.server.name, status, image };
      if (b.dataset.action === "delete") openDelete(server);
      else if (b.dataset.action === "reset-password") openPassword(server);
      else if (b.dataset.action === "remote-login") remoteLogin(id);
      else open(server, b.dataset.action);
    });
  }
  watch({ server: id }, ({ server }) => {
    status = server.status;
    image = server.image.id;
    document.getElementById("server-status").replaceWith(Object.assign(statusBadge(server.status), { id: "server-status" }));
    document.getElementById("server-task-state").textContent = server["OS-EXT-STS:task_state"] || "—";
    document.getElementById("server-key").textContent = server.key_name || "—";
    document.getElementById("server-image").textContent = (server.metadata || {}).image_name || server.image.id;
    for (const b of buttons) b.disabled = busy(server.status);
  });
  watch({ jobs: true, server: id }, (d) => renderJobs(jobs, d.jobs), { jobs: data.jobs });
  for (const b of document.querySelectorAll("[data-copy]")) {
    b.addEventListener("click", () => navigator.clipboard?.writeText(document.getElementById(b.dataset.copy).textContent));
  }
}

function jobsPage() {
  const jobs = document.getElementById("jobs");
  const initial = jsonData("jobs-data");
  renderJobs(jobs, initial.jobs);
  watch({ jobs: true }, (d) => renderJobs(jobs, d.jobs), initial);
}

function download(name, text) {
  const a = el("a", { href: URL.createObjectURL(new Blob([text], { type: "application/x-pem-file" })), download: name });
  document.body.append(a);
  a.click();
  a.remove();
}

function keypairsPage() {
  const error = document.getElementById("keypair-error");
  const fail = (err) => { error.textContent = `${err.code} ${err.message}`.trim(); error.hidden = false; };
  document.getElementById("create-keypair").addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const { keypair } = await send("POST", "/keypairs", { name: e.target.name.value });
      download(`${keypair.name}.pem`, keypair.private_key);
      location.reload();
    } catch (err) { fail(err); }
  });
  document.getElementById("import-keypair").addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await send("POST", "/keypairs", { name: e.target.name.value, public_key: e.target.public_key.value });
      location.reload();
    } catch (err) { fail(err); }
  });
  document.getElementById("keypairs").addEventListener("click", async (e) => {
    const name = e.target.dataset?.delete;
    if (!name || !confirm(`Delete key pair ${name}?`)) return;
    try {
      await send("DELETE", `/keypairs/${encodeURIComponent(name)}`);
      location.reload();
    } catch (err) { fail(err); }
  });
}

const pages = { servers: serversPage, server: serverPage, jobs: jobsPage, keypairs: keypairsPage };
pages[document.body.dataset.page]?.();
window.ecslite = { checkPassword, watch };
