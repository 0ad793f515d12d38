// ecslite console: live views, the Reinstall OS dialog, key pairs. No dependencies.
//
// Every live view gets its data through watch(); it polls the console's JSON endpoints, whose
// payloads are the API's own shapes (ShowServer, the GET-job JSON) — the same the event stream
// carries — so moving to EventSource changes watch() and nothing else.

const prefix = document.body.dataset.prefix || "/console";
const POLL_MS = 1000;

// topic: {servers: true} | {server: id} | {job: id} | {jobs: true, server?: id}
// onData gets {servers: [...]}, {server: {...}}, a job, or {jobs: [...]}; return false to stop.
export function watch(topic, onData) {
  let url;
  if (topic.servers) url = `${prefix}/api/servers`;
  else if (topic.server && !topic.jobs) url = `${prefix}/api/servers/${encodeURIComponent(topic.server)}`;
  else if (topic.job) url = `${prefix}/api/jobs/${encodeURIComponent(topic.job)}`;
  else url = `${prefix}/api/jobs` + (topic.server ? `?server_id=${encodeURIComponent(topic.server)}` : "");
  let stopped = false;
  const live = document.getElementById("live");
  async function tick() {
    if (stopped) return;
    // A tab nobody looks at costs the service nothing; it catches up when shown again.
    if (document.visibilityState === "hidden") { setTimeout(tick, POLL_MS); return; }
    try {
      const resp = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (resp.status === 401) { location.href = `${prefix}/login`; return; }
      if (resp.ok && onData(await resp.json()) === false) { stopped = true; return; }
      if (live) live.classList.remove("stale");
    } catch (err) {
      if (live) live.classList.add("stale");
    }
    setTimeout(tick, POLL_MS);
  }
  setTimeout(tick, POLL_MS);
  return () => { stopped = true; };
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

export function renderServers(tbody, servers) {
  tbody.replaceChildren(
    ...servers.map((s) => {
      const addrs = Object.entries(s.addresses || {})
        .map(([net, list]) => `${net}: ${list.map((a) => a.addr).join(", ")}`)
        .join("; ");
      const btn = el("button", { type: "button", dataset: { reinstall: s.id, name: s.name, status: s.status } }, "Reinstall OS");
      if (s.status === "REBUILD") btn.disabled = true;
      return el(
        "tr",
        { dataset: { serverId: s.id, name: s.name } },
        el("td", {}, el("a", { href: `${prefix}/servers/${s.id}` }, s.name)),
        el("td", {}, statusBadge(s.status)),
        el("td", { class: "task" }, s["OS-EXT-STS:task_state"] || "—"),
        el("td", {}, (s.metadata || {}).image_name || s.image.id),
        el("td", {}, s.flavor.name),
        el("td", { class: "key" }, s.key_name || "—"),
        el("td", {}, addrs || "—"),
        el("td", {}, btn),
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

// ---- the Reinstall OS dialog ----

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
  let stopWatch = null;

  const show = (node, text) => { node.textContent = text || ""; node.hidden = !text; };
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
    const mode = loginMode();
    const body = {
      keyname: mode === "key" ? form.keyname.value || null : null,
      adminpass: mode === "password" ? form.adminpass.value : null,
      user_data: form.user_data.value || null,
      cmk_id: form.encrypt.checked ? form.cmk_id.value : null,
      stop_first: form.stop_first.checked,
    };
    submit.disabled = true;
    try {
      const { job_id } = await send("POST", `/servers/${encodeURIComponent(serverId)}/reinstall`, body);
      // The choices are made; the dialog now shows the job.
      for (const part of form.querySelectorAll("fieldset, [data-running], .hint")) part.hidden = true;
      followJob(job_id);
    } catch (err) {
      submit.disabled = false;
      const text = `${err.code} ${err.message}`.trim();
      if (/user_data|cloud-config/i.test(err.message)) show(udError, text);
      else show(error, text);
    }
  });

  function followJob(jobId) {
    jobBox.hidden = false;
    jobBox.querySelector('[data-field="job-id"]').textContent = jobId;
    const paint = (job) => {
      const status = jobBox.querySelector('[data-field="job-status"]');
      status.replaceChildren(statusBadge(job.status));
      const art = renderJob(job);
      jobBox.querySelector('[data-field="job-steps"]').replaceChildren(...art.querySelector("ol").children);
      show(jobBox.querySelector('[data-field="job-reason"]'), job.fail_reason ? `${job.error_code || ""} ${job.fail_reason}` : "");
      return job.status !== "SUCCESS" && job.status !== "FAIL";
    };
    paint({ job_id: jobId, status: "INIT", entities: { sub_jobs: [] } });
    stopWatch = watch({ job: jobId }, paint);
  }

  return function open({ id, name, status }) {
    serverId = id;
    form.reset();
    syncLogin();
    show(pwError, ""); show(error, ""); show(udError, "");
    jobBox.hidden = true;
    for (const part of form.querySelectorAll("fieldset, .hint")) part.hidden = false;
    submit.disabled = false;
    dialog.querySelector('[data-field="server-name"]').textContent = name;
    form.querySelector("[data-running]").hidden = status !== "ACTIVE";
    dialog.showModal();
  };
}

// ---- pages ----

function serversPage() {
  const tbody = document.querySelector("#servers tbody");
  const open = setupDialog();
  renderServers(tbody, jsonData("servers-data").servers);
  tbody.addEventListener("click", (e) => {
    const btn = e.target.closest("button[data-reinstall]");
    if (btn) open({ id: btn.dataset.reinstall, name: btn.dataset.name, status: btn.dataset.status });
  });
  watch({ servers: true }, (data) => renderServers(tbody, data.servers));
}

function serverPage() {
  const data = jsonData("server-data");
  const id = data.server.id;
  const jobs = document.getElementById("jobs");
  const button = document.getElementById("open-reinstall");
  const open = setupDialog();
  renderJobs(jobs, data.jobs);
  button.addEventListener("click", () => open({ id, name: data.server.name, status: button.dataset.status }));
  watch({ server: id }, ({ server }) => {
    document.getElementById("server-status").replaceWith(Object.assign(statusBadge(server.status), { id: "server-status" }));
    document.getElementById("server-task-state").textContent = server["OS-EXT-STS:task_state"] || "—";
    document.getElementById("server-key").textContent = server.key_name || "—";
    button.dataset.status = server.status;
    button.disabled = server.status === "REBUILD";
  });
  watch({ jobs: true, server: id }, (d) => renderJobs(jobs, d.jobs));
  for (const b of document.querySelectorAll("[data-copy]")) {
    b.addEventListener("click", () => navigator.clipboard?.writeText(document.getElementById(b.dataset.copy).textContent));
  }
}

function jobsPage() {
  const jobs = document.getElementById("jobs");
  renderJobs(jobs, jsonData("jobs-data").jobs);
  watch({ jobs: true }, (d) => renderJobs(jobs, d.jobs));
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
