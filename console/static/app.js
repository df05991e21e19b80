// Tusk console: one page, hash routes, plain DOM. Every call goes to the
// admin API (/api/v1) or the S3 API as the signed-in user; the session
// cookie is HttpOnly and every changing call carries the CSRF token.
"use strict";

const S = { user: "", csrf: "", admin: false };
const PAGE = 100; // rows per page of lists

// ---- DOM helpers (text only: never innerHTML with data) ----

function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids.flat(Infinity)) {
    if (k === undefined || k === null || k === false) continue;
    el.append(k instanceof Node ? k : String(k));
  }
  return el;
}

function svg(tag, attrs, ...kids) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  for (const k of kids) el.append(k instanceof Node ? k : String(k));
  return el;
}

function link(route, params, ...kids) { return h("a", { href: hashOf(route, params) }, ...kids); }
function hashOf(route, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const s = q.toString();
  return "#/" + route + (s ? "?" + s : "");
}
function go(route, params) { location.hash = hashOf(route, params); }

const main = () => document.getElementById("main");
// show renders a page's content unless a newer route started meanwhile
// (p.gen: the route's number; the last route wins, not the slowest).
function show(p, ...kids) {
  if (p && p.gen !== routeGen) return;
  main().replaceChildren(...kids.flat());
}
let routeGen = 0;
function errorBox(e) { return h("div", { class: "error", role: "alert" }, e && e.message ? e.message : String(e)); }

function size(n) {
  if (n === undefined || n === null) return "";
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0, x = n;
  while (x >= 1024 && i < u.length - 1) { x /= 1024; i++; }
  return (i === 0 ? x : x.toFixed(1)) + " " + u[i];
}
function when(t) {
  if (!t) return "";
  const d = new Date(t);
  return isNaN(d) ? t : d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}
function short(id) { return id ? id.slice(0, 12) : ""; }
function table(head, rows, numCols) {
  const nums = new Set(numCols || []);
  return h("table", {},
    h("thead", {}, h("tr", {}, head.map((c, i) => h("th", { class: nums.has(i) ? "num" : "" }, c)))),
    h("tbody", {}, rows.length ? rows.map(r => h("tr", {}, r.map((c, i) => h("td", { class: nums.has(i) ? "num" : "" }, c))))
      : h("tr", {}, h("td", { colspan: head.length, class: "muted" }, "nothing here"))));
}
function duration(a, b) {
  if (!a || !b) return "";
  const s = (new Date(b) - new Date(a)) / 1000;
  return s < 60 ? s.toFixed(1) + " s" : (s / 60).toFixed(1) + " min";
}
function field(name, attrs) { return h("input", Object.assign({ name, placeholder: name }, attrs || {})); }
function form(attrs, onsubmit, ...kids) {
  const out = h("span", { class: "result" });
  const f = h("form", Object.assign({ class: "inline" }, attrs), ...kids, out);
  f.addEventListener("submit", async ev => {
    ev.preventDefault();
    const data = Object.fromEntries(new FormData(f).entries());
    out.replaceChildren();
    try {
      const r = await onsubmit(data, f);
      if (r instanceof Node) out.replaceChildren(r);
    } catch (e) { out.replaceChildren(errorBox(e)); }
  });
  return f;
}

// ---- calls ----

class APIError extends Error {
  constructor(status, body) {
    super((body && body.message) || ("HTTP " + status));
    this.status = status; this.code = body && body.code; this.body = body || {};
  }
}

async function call(method, url, body, extra) {
  const opt = { method, headers: {}, credentials: "same-origin" };
  if (method !== "GET" && method !== "HEAD") opt.headers["X-Tusk-Csrf"] = S.csrf;
  if (body !== undefined) { opt.headers["Content-Type"] = "application/json"; opt.body = JSON.stringify(body); }
  Object.assign(opt.headers, extra || {});
  const r = await fetch(url, opt);
  if (r.status === 401 || (r.status === 403 && url.startsWith("/ui/"))) { signedOut(); throw new APIError(r.status, { message: "signed out" }); }
  if (!r.ok) {
    let b = null;
    try { b = await r.json(); } catch (_) { /* not JSON */ }
    if (b && /console session has expired|was revoked/.test(b.message || "")) signedOut();
    throw new APIError(r.status, b);
  }
  return r;
}
async function api(method, path, body) {
  const r = await call(method, "/api/v1" + path, body);
  return r.status === 204 ? null : r.json();
}
const enc = encodeURIComponent;
function encKey(key) { return key.split("/").map(enc).join("/"); }
function objectURL(repo, ref, key) { return `/api/v1/repos/${enc(repo)}/object?ref=${enc(ref)}&key=${enc(key)}`; }
// S3 path-style address of a key at a ref (bucket REF.REPO).
function s3URL(repo, ref, key) { return `/${ref}.${repo}/${encKey(key)}`; }

// ---- session ----

// signedOut forgets the session and shows the sign-in page; keepPlace
// (a session that expired) comes back to the same page after signing in.
function signedOut(keepPlace = true) {
  S.user = ""; S.csrf = ""; S.admin = false;
  document.getElementById("nav").hidden = true;
  document.getElementById("signout").hidden = true;
  document.getElementById("who").textContent = "";
  document.body.classList.remove("admin");
  if (!location.hash.startsWith("#/login")) go("login", keepPlace ? { next: location.hash.slice(1) } : {});
  else route();
}

async function signedIn(info) {
  S.user = info.user; S.csrf = info.csrf;
  const me = await api("GET", "/whoami");
  S.admin = !!me.admin;
  document.body.classList.toggle("admin", S.admin);
  document.getElementById("nav").hidden = false;
  document.getElementById("signout").hidden = false;
  document.getElementById("who").textContent = S.user + (S.admin ? " (admin)" : "");
}

function pageLogin(p) {
  const err = h("div");
  const f = h("form", { class: "box login", id: "login" },
    h("h1", {}, "Sign in to Tusk"),
    h("label", { for: "ak" }, "Access key"), h("input", { id: "ak", name: "access_key", autocomplete: "username", required: true }),
    h("label", { for: "sk" }, "Secret key"), h("input", { id: "sk", name: "secret_key", type: "password", autocomplete: "current-password", required: true }),
    h("p", {}, h("button", { type: "submit" }, "Sign in")), err,
    h("p", { class: "muted" }, "The keys are those of the aws CLI and tusk login. The session lasts until you sign out, one hour idle, or twelve hours."));
  f.addEventListener("submit", async ev => {
    ev.preventDefault();
    err.replaceChildren();
    const r = await fetch("/ui/session", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ access_key: f.access_key.value.trim(), secret_key: f.secret_key.value }) });
    const b = await r.json().catch(() => ({}));
    if (!r.ok) { err.replaceChildren(errorBox(b.message || "sign-in failed")); return; }
    await signedIn(b);
    const next = p.get("next");
    location.hash = next && next !== "/login" ? next : "/repos";
  });
  show(p, f);
}

async function signOut() {
  try { await call("DELETE", "/ui/session"); } catch (_) { /* already gone */ }
  signedOut(false);
}

// ---- repos ----

async function pageRepos(p) {
  const repos = await api("GET", "/repos");
  const rows = repos.map(r => {
    const branches = h("span", { class: "muted" }, "…"), last = h("span", { class: "muted" }, "…");
    // Size and key count of main's head, from the repo list (cached per tree node on the server).
    const sz = h("span", { class: "repo-size", "data-size": r.size, "data-objects": r.objects, title: `${r.size} bytes` }, size(r.size), h("span", { class: "muted" }, ` · ${r.objects} keys`));
    (async () => {
      try {
        const bs = await api("GET", `/repos/${enc(r.name)}/branches`);
        branches.replaceChildren(String(bs.length));
        const lg = await api("GET", `/repos/${enc(r.name)}/log?limit=1`);
        const c = lg.commits[0];
        last.replaceChildren(c ? link("commit", { repo: r.name, id: c.id }, short(c.id)) : "", c ? " " + (c.message || "") + " · " + when(c.time) : "");
      } catch (e) { last.replaceChildren(e.message); }
    })();
    return [link("repo", { repo: r.name }, r.name), sz, branches, last, r.permission, r.owner || "", r.public ? "public" : "", deleteRepoButton(r.name)];
  });
  const create = form({ id: "create-repo" }, async d => {
    await api("POST", "/repos", { name: d.name.trim() });
    go("repo", { repo: d.name.trim() });
  }, field("name", { placeholder: "new repo name", required: true }), h("button", { type: "submit" }, "Create repo"));
  show(p, h("h1", {}, "Repos"), create,
    table(["repo", "size (main)", "branches", "last commit on main", "your permission", "owner", "", ""], rows, [1, 2]));
}

function deleteRepoButton(name) {
  const wrap = h("span", { class: "confirm" });
  const start = h("button", { class: "danger", type: "button", "data-delete": name, onclick: () => {
    const input = h("input", { placeholder: "type " + name + " to confirm", "data-confirm": name });
    const force = h("label", {}, h("input", { type: "checkbox" }), " force");
    const out = h("span");
    const really = h("button", { class: "danger", type: "button", "data-really": name, onclick: async () => {
      if (input.value !== name) { out.replaceChildren(errorBox("type the repo's name to confirm")); return; }
      try {
        await api("DELETE", `/repos/${enc(name)}` + (force.firstChild.checked ? "?force=true" : ""));
        route();
      } catch (e) { out.replaceChildren(errorBox(e)); }
    } }, "Delete for good");
    wrap.replaceChildren(input, force, really, h("button", { class: "secondary", type: "button", onclick: () => wrap.replaceChildren(start) }, "Cancel"), out);
  } }, "Delete…");
  wrap.append(start);
  return wrap;
}

// actionButton runs fn (an admin API call) and re-renders the page; with
// confirm, the first click asks ("click again to ...").
function actionButton(label, fn, confirm) {
  const out = h("span");
  const b = h("button", { class: confirm ? "secondary danger-text" : "secondary", type: "button", "data-action": label, onclick: async () => {
    if (confirm && !b.dataset.armed) { b.dataset.armed = "1"; b.textContent = "click again to " + confirm; return; }
    try { await fn(); route(); } catch (e) { out.replaceChildren(errorBox(e)); }
  } }, label);
  return h("span", {}, b, out);
}

async function refsOf(repo) {
  const [branches, tags] = await Promise.all([api("GET", `/repos/${enc(repo)}/branches`), api("GET", `/repos/${enc(repo)}/tags`)]);
  return { branches, tags };
}

async function pageRepo(p) {
  const repo = p.get("repo");
  const [info, refs] = await Promise.all([api("GET", `/repos/${enc(repo)}`), refsOf(repo)]);
  const admin = info.permission === "admin";
  const brRows = refs.branches.map(b => [link("tree", { repo, ref: b.name }, b.name), link("commit", { repo, id: b.head }, short(b.head)),
    b.protected ? "protected" + ((b.required_pipelines || []).length ? " (needs " + b.required_pipelines.join(", ") + ")" : "") : "", b.output ? "pipeline output" : "",
    h("span", {}, link("log", { repo, ref: b.name }, "log"), " · ", link("tree", { repo, ref: b.name }, "browse")),
    admin && !b.output ? h("span", {},
      actionButton(b.protected ? "unprotect" : "protect", () => api("PUT", `/repos/${enc(repo)}/branches/${enc(b.name)}/protected`, { protected: !b.protected })),
      b.name !== "main" && !b.protected ? actionButton("delete", () => api("DELETE", `/repos/${enc(repo)}/branches/${enc(b.name)}`), "delete branch " + b.name) : null) : ""]);
  const tagRows = refs.tags.map(t => [link("tree", { repo, ref: t.name }, t.name), link("commit", { repo, id: t.commit }, short(t.commit)), when(t.created),
    admin ? actionButton("delete", () => api("DELETE", `/repos/${enc(repo)}/tags/${enc(t.name)}`), "delete tag " + t.name) : ""]);
  const mergeOut = h("div", { id: "merge-result" });
  const merge = form({ id: "merge" }, async d => {
    mergeOut.replaceChildren();
    try {
      const r = await api("POST", `/repos/${enc(repo)}/merge`, { source: d.source, destination: d.destination, strategy: d.strategy, message: d.message || undefined });
      mergeOut.replaceChildren(h("div", { class: "ok" }, r.up_to_date ? "Already up to date." :
        `Merged ${d.source} into ${d.destination}: commit `, r.commit ? link("commit", { repo, id: r.commit }, short(r.commit)) : "",
        ` (${r.changed || 0} keys changed${r.fast_forward ? ", fast-forward" : ""}, strategy ${r.strategy || d.strategy}).`));
    } catch (e) {
      const box = [errorBox(e)];
      if (e.body && e.body.conflicts) box.push(h("h2", {}, `Conflicts (${e.body.conflicts.length})`),
        h("ul", { class: "conflicts" }, e.body.conflicts.map(k => h("li", { class: "mono" }, k))),
        h("p", { class: "muted" }, "Merge again with strategy ours (keep the destination's) or theirs (take the source's)."));
      if (e.body && e.body.gate) box.push(table(["pipeline", "state", "job", "reason"], e.body.gate.map(g => [g.pipeline, g.state, g.job ? link("job", { id: g.job }, short(g.job)) : "", g.reason || ""])));
      mergeOut.replaceChildren(...box);
    }
  }, field("source", { placeholder: "source ref", required: true }), h("span", {}, "into"),
    field("destination", { placeholder: "destination branch", required: true, value: "main" }),
    h("select", { name: "strategy" }, ["fail", "ours", "theirs"].map(s => h("option", { value: s }, s))),
    field("message", { placeholder: "message (optional)" }), h("button", { type: "submit" }, "Merge"));
  show(p,
    h("h1", {}, "Repo ", repo), h("p", { class: "muted" }, `owner ${info.owner || ""} · your permission ${info.permission} · created ${when(info.created)}${info.public ? " · public" : ""}`),
    h("div", { class: "row" }, link("tree", { repo, ref: "main" }, "Browse main"), "·", link("log", { repo, ref: "main" }, "History of main")),
    admin ? h("div", { class: "row" }, actionButton(info.public ? "make private" : "make public (anonymous read)",
      () => api("PUT", `/repos/${enc(repo)}/public`, { public: !info.public }))) : null,
    h("h2", {}, "Branches"), table(["branch", "head", "", "", "", ""], brRows),
    form({ id: "create-branch" }, async d => {
      await api("POST", `/repos/${enc(repo)}/branches`, { name: d.name, from: d.from || "main" }); route();
    }, field("name", { placeholder: "new branch", required: true }), field("from", { placeholder: "from ref (main)" }), h("button", { type: "submit" }, "Create branch")),
    h("h2", {}, "Tags"), table(["tag", "commit", "created", ""], tagRows),
    form({ id: "create-tag" }, async d => {
      await api("POST", `/repos/${enc(repo)}/tags`, { name: d.name, from: d.from || "main" }); route();
    }, field("name", { placeholder: "new tag", required: true }), field("from", { placeholder: "from ref (main)" }), h("button", { type: "submit" }, "Create tag")),
    h("h2", {}, "Diff"),
    form({ id: "diff" }, async d => go("diff", { repo, from: d.from, to: d.to, prefix: d.prefix }),
      field("from", { placeholder: "from ref", required: true }), field("to", { placeholder: "to ref", required: true }), field("prefix", { placeholder: "prefix (optional)" }),
      h("button", { type: "submit" }, "Compare")),
    h("h2", {}, "Merge"), merge, mergeOut);
}

// ---- browse ----

function crumbs(repo, ref, prefix) {
  const parts = prefix.split("/").filter(Boolean);
  const out = [link("repo", { repo }, repo), h("span", {}, "@"), link("tree", { repo, ref }, ref), h("span", {}, ":")];
  let acc = "";
  for (const part of parts) { acc += part + "/"; out.push(link("tree", { repo, ref, prefix: acc }, part + "/")); }
  return h("div", { class: "crumbs mono" }, out);
}

async function pageTree(p) {
  const repo = p.get("repo"), ref = p.get("ref") || "main", prefix = p.get("prefix") || "", after = p.get("after") || "";
  const q = `ref=${enc(ref)}&prefix=${enc(prefix)}&delimiter=%2F&limit=${PAGE}` + (after ? `&after=${enc(after)}` : "");
  const [ls, refs] = await Promise.all([api("GET", `/repos/${enc(repo)}/objects?${q}`), refsOf(repo)]);
  const isBranch = refs.branches.some(b => b.name === ref);
  const rows = [];
  for (const d of ls.prefixes) rows.push([link("tree", { repo, ref, prefix: d }, "📁 " + d.slice(prefix.length)), "", "", ""]);
  for (const o of ls.objects) rows.push([link("object", { repo, ref, key: o.key }, o.key.slice(prefix.length)), size(o.size), when(o.last_modified), h("span", { class: "mono" }, short(o.version))]);
  const sel = h("select", { id: "refsel", onchange: ev => go("tree", { repo, ref: ev.target.value, prefix }) },
    h("optgroup", { label: "branches" }, refs.branches.map(b => h("option", { value: b.name, selected: b.name === ref }, b.name))),
    h("optgroup", { label: "tags" }, refs.tags.map(t => h("option", { value: t.name, selected: t.name === ref }, t.name))),
    !refs.branches.some(b => b.name === ref) && !refs.tags.some(t => t.name === ref) ? h("option", { value: ref, selected: true }, "commit " + short(ref)) : null);
  const nav = h("div", { class: "row" },
    after ? link("tree", { repo, ref, prefix }, "« first page") : null,
    ls.truncated ? link("tree", { repo, ref, prefix, after: ls.next }, "next page »") : null);
  show(p, h("h1", {}, "Browse"), h("div", { class: "row" }, crumbs(repo, ref, prefix), sel,
    h("span", { class: "muted" }, "at commit ", link("commit", { repo, id: ls.commit }, short(ls.commit))),
    link("log", { repo, ref, path: prefix }, prefix ? "history of this prefix" : "history")),
  isBranch ? uploader(repo, ref, prefix) : h("p", { class: "muted" }, "Read-only ref: upload into a branch."),
  table(["name", "size", "last modified", "version"], rows, [1]), nav);
}

function uploader(repo, branch, prefix) {
  const msg = h("input", { id: "upload-message", placeholder: "commit message (optional)" });
  const bar = h("progress", { id: "upload-progress", max: 1, value: 0, hidden: true });
  const status = h("div", { id: "upload-status" });
  const input = h("input", { type: "file", multiple: true, id: "upload-input" });
  const zone = h("div", { id: "drop" }, "Drop files here to upload them into ", h("b", {}, branch + ":" + (prefix || "/")),
    " as one commit, or choose them: ", input, h("div", { class: "row" }, msg), bar, status);
  const run = files => upload(repo, branch, prefix, Array.from(files), msg.value, bar, status);
  zone.addEventListener("dragover", ev => { ev.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", ev => { ev.preventDefault(); zone.classList.remove("over"); run(ev.dataTransfer.files); });
  input.addEventListener("change", () => run(input.files));
  return zone;
}

// upload writes files into an open commit of branch (one S3 PUT each, with
// the session's CSRF token) and finishes it: one commit for the batch.
async function upload(repo, branch, prefix, files, message, bar, status) {
  if (!files.length) return;
  const total = files.reduce((a, f) => a + f.size, 0) || 1;
  let done = 0;
  bar.hidden = false; bar.value = 0;
  status.replaceChildren(`Uploading ${files.length} file(s), ${size(total)}…`);
  const msg = message || `upload ${files.length} file(s) from the console`;
  let oc;
  try {
    oc = await api("POST", `/repos/${enc(repo)}/commits`, { branch, message: msg });
    for (const f of files) {
      await new Promise((resolve, reject) => {
        const x = new XMLHttpRequest();
        x.open("PUT", `/${oc.bucket}/${encKey(prefix + f.name)}`);
        x.setRequestHeader("X-Tusk-Csrf", S.csrf);
        if (f.type) x.setRequestHeader("Content-Type", f.type);
        x.upload.onprogress = ev => { bar.value = (done + ev.loaded) / total; };
        x.onload = () => x.status < 300 ? resolve() : reject(new Error(`${f.name}: HTTP ${x.status} ${x.responseText.slice(0, 300)}`));
        x.onerror = () => reject(new Error(`${f.name}: network error`));
        x.send(f);
      });
      done += f.size; bar.value = done / total;
    }
    const c = await api("POST", `/repos/${enc(repo)}/commits/${enc(oc.id)}/finish`, { message: msg });
    bar.value = 1;
    status.replaceChildren(h("div", { class: "ok" }, `Uploaded ${files.length} file(s) as commit `, link("commit", { repo, id: c.id }, short(c.id)), ". ",
      h("a", { href: "#", onclick: ev => { ev.preventDefault(); route(); } }, "Refresh")));
  } catch (e) {
    if (oc) { try { await api("POST", `/repos/${enc(repo)}/commits/${enc(oc.id)}/abort`); } catch (_) { /* keep the first error */ } }
    status.replaceChildren(errorBox(e), h("p", { class: "muted" }, "Nothing was committed."));
  }
}

// ---- object ----

const TEXT = /\.(txt|md|log|csv|tsv|json|jsonl|ya?ml|xml|html?|js|go|py|sh|toml|ini|cfg)$/i;
const IMAGE = /\.(png|jpe?g|gif|webp|svg|bmp)$/i;

async function pageObject(p) {
  const repo = p.get("repo"), ref = p.get("ref") || "main", key = p.get("key");
  const head = await call("HEAD", s3URL(repo, ref, key));
  const hd = head.headers;
  const meta = [];
  hd.forEach((v, k) => { if (k.startsWith("x-amz-meta-")) meta.push([k.slice(11), v]); });
  const n = Number(hd.get("content-length"));
  const ct = hd.get("content-type") || "";
  const version = hd.get("x-amz-version-id") || "";
  const kv = [["key", h("span", { class: "mono" }, key)], ["size", `${size(n)} (${n} bytes)`], ["ETag", h("span", { class: "mono" }, hd.get("etag") || "")],
    ["content type", ct], ["last modified", when(hd.get("last-modified"))],
    ["version", version ? link("commit", { repo, id: version }, h("span", { class: "mono" }, version)) : ""],
    ["read at", h("span", {}, ref, " = commit ", link("commit", { repo, id: hd.get("x-tusk-commit") }, short(hd.get("x-tusk-commit") || "")))]];
  for (const [k, v] of meta) kv.push(["meta " + k, h("span", { class: "mono" }, v)]);
  const preview = h("div", { class: "preview", id: "preview" }, h("span", { class: "muted" }, "…"));
  const versions = h("div", { id: "versions" }, h("span", { class: "muted" }, "…"));
  show(p, h("h1", {}, "Object"), crumbs(repo, ref, key.includes("/") ? key.slice(0, key.lastIndexOf("/") + 1) : ""),
    h("div", { class: "row" },
      h("a", { href: objectURL(repo, ref, key), download: key.split("/").pop(), id: "download" }, "Download"), "·",
      link("log", { repo, ref, path: key }, "history of this key"), "·",
      link("prov", { repo, ref, key }, "provenance")),
    h("table", { class: "kv" }, kv.map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, v)))),
    h("h2", {}, "Preview"), preview, h("h2", {}, "Versions"), versions);
  renderPreview(preview, repo, ref, key, n, ct).catch(e => preview.replaceChildren(errorBox(e)));
  renderVersions(versions, repo, ref, key).catch(e => versions.replaceChildren(errorBox(e)));
}

async function renderPreview(el, repo, ref, key, n, ct) {
  if (ct.startsWith("image/") || IMAGE.test(key)) {
    el.replaceChildren(h("img", { src: objectURL(repo, ref, key), alt: key }));
    return;
  }
  if (/\.parquet$/i.test(key) || /parquet/i.test(ct)) { await renderParquet(el, repo, ref, key); return; }
  if (!(ct.startsWith("text/") || /json|csv|xml|yaml/.test(ct) || TEXT.test(key))) {
    el.replaceChildren(h("p", { class: "muted" }, `No preview for ${ct || "this type"}: download it.`));
    return;
  }
  const limit = 64 * 1024;
  const r = await call("GET", s3URL(repo, ref, key), undefined, n > limit ? { Range: `bytes=0-${limit - 1}` } : {});
  const text = await r.text();
  const cut = n > limit ? `(first ${size(limit)} of ${size(n)})` : "";
  if (/\.(csv|tsv)$/i.test(key) || /csv/.test(ct)) {
    const sep = /\.tsv$/i.test(key) ? "\t" : ",";
    const lines = text.split(/\r?\n/).filter(Boolean).slice(0, 21);
    if (n > limit && lines.length) lines.pop(); // maybe cut mid-line
    const rows = lines.map(l => splitCSV(l, sep));
    el.replaceChildren(h("p", { class: "muted" }, `first ${Math.max(rows.length - 1, 0)} rows ${cut}`),
      rows.length ? table(rows[0], rows.slice(1)) : "");
    return;
  }
  if ((/\.json$/i.test(key) || /json/.test(ct)) && n <= limit) {
    try { el.replaceChildren(h("pre", { class: "json" }, JSON.stringify(JSON.parse(text), null, 2))); return; } catch (_) { /* show as text */ }
  }
  el.replaceChildren(h("pre", {}, text), cut ? h("p", { class: "muted" }, cut) : "");
}

// renderParquet shows a Parquet object's schema and first 20 rows, which
// the server reads from the footer and the first row group
// (GET /repos/{repo}/preview).
async function renderParquet(el, repo, ref, key) {
  const p = await api("GET", `/repos/${enc(repo)}/preview?ref=${enc(ref)}&key=${enc(key)}&rows=20`);
  const cell = v => v === null ? h("span", { class: "muted" }, "null") : typeof v === "object" ? JSON.stringify(v) : String(v);
  const nums = p.columns.map((c, i) => /^(INT|DOUBLE|FLOAT)/.test(c.type) ? i : -1).filter(i => i >= 0);
  el.replaceChildren(
    h("p", { class: "muted", id: "parquet-summary" }, `Parquet: ${p.num_rows} rows in ${p.row_groups} row group${p.row_groups === 1 ? "" : "s"}, ${p.columns.length} columns; first ${p.rows.length} rows (read ${size(p.bytes_read)} of ${size(p.size)})`),
    h("details", { id: "parquet-schema" }, h("summary", {}, "schema"),
      table(["column", "type", ""], p.columns.map(c => [h("span", { class: "mono" }, c.name), c.type, c.repeated ? "repeated" : c.optional ? "optional" : ""]))),
    h("div", { id: "parquet-head" }, table(p.columns.map(c => c.name), p.rows.map(r => r.map(cell)), nums)));
}

function splitCSV(line, sep) {
  const out = []; let cur = "", q = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (q) { if (c === '"' && line[i + 1] === '"') { cur += '"'; i++; } else if (c === '"') q = false; else cur += c; }
    else if (c === '"') q = true; else if (c === sep) { out.push(cur); cur = ""; } else cur += c;
  }
  out.push(cur);
  return out;
}

// renderVersions lists the key's versions: S3 ListObjectVersions on a
// branch, the key's history on a tag or commit.
async function renderVersions(el, repo, ref, key) {
  const refs = await refsOf(repo);
  if (refs.branches.some(b => b.name === ref)) {
    // ListObjectVersions, PAGE versions a page, asking for one more to
    // know whether the key has an older page. The key's versions come
    // first among the keys with it as prefix, so a page ends at the first
    // version of another key. marks[i] holds the key-marker and
    // version-id-marker that start page i: the key and the last version
    // id of page i-1.
    const marks = [["", ""]];
    const load = async i => {
      const [km, vm] = marks[i];
      const r = await call("GET", `/${ref}.${repo}?versions&prefix=${enc(key)}&max-keys=${PAGE + 1}` + (km ? `&key-marker=${enc(km)}&version-id-marker=${enc(vm)}` : ""));
      const doc = new DOMParser().parseFromString(await r.text(), "application/xml");
      const rows = [];
      let more = false, lastID = "";
      for (const v of doc.querySelectorAll("Version, DeleteMarker")) {
        const t = s => (v.getElementsByTagName(s)[0] || {}).textContent || "";
        if (t("Key") !== key) break;
        if (rows.length === PAGE) { more = true; break; }
        const id = lastID = t("VersionId");
        rows.push([v.tagName === "DeleteMarker" ? "delete marker" : link("object", { repo, ref: id, key }, h("span", { class: "mono" }, id)),
          t("IsLatest") === "true" ? "current" : "", size(Number(t("Size"))), when(t("LastModified")), h("span", { class: "mono" }, t("ETag"))]);
      }
      if (more) marks[i + 1] = [key, lastID];
      el.replaceChildren(table(["version (commit)", "", "size", "time", "ETag"], rows, [2]),
        h("div", { class: "row", id: "versions-pager", "data-page": i + 1 },
          i > 0 ? h("button", { class: "secondary", type: "button", id: "versions-prev", onclick: () => load(i - 1).catch(e => el.replaceChildren(errorBox(e))) }, "« newer") : null,
          h("span", { class: "muted" }, `page ${i + 1}, versions ${i * PAGE + (rows.length ? 1 : 0)}–${i * PAGE + rows.length}`),
          more ? h("button", { class: "secondary", type: "button", id: "versions-next", onclick: () => load(i + 1).catch(e => el.replaceChildren(errorBox(e))) }, "older »") : null));
    };
    await load(0);
    return;
  }
  const lg = await api("GET", `/repos/${enc(repo)}/log?ref=${enc(ref)}&path=${enc(key)}&limit=${PAGE}`);
  const last = lg.commits[lg.commits.length - 1];
  el.replaceChildren(table(["commit", "message", "author", "time"], lg.commits.map(c =>
    [link("object", { repo, ref: c.id, key }, h("span", { class: "mono" }, short(c.id))), c.message, c.author, when(c.time)])),
    lg.commits.length === PAGE && last.parents.length ? h("div", { class: "row" }, link("log", { repo, ref: last.parents[0], path: key, from: ref }, "older »")) : null);
}

// ---- history ----

async function pageLog(p) {
  const repo = p.get("repo"), ref = p.get("ref") || "main", path = p.get("path") || "";
  const lg = await api("GET", `/repos/${enc(repo)}/log?ref=${enc(ref)}&limit=${PAGE}` + (path ? `&path=${enc(path)}` : ""));
  const cs = lg.commits;
  // The next page starts at the first parent of this page's last commit.
  const last = cs[cs.length - 1];
  const older = cs.length === PAGE && last && last.parents.length ? link("log", { repo, ref: last.parents[0], path, from: p.get("from") || ref }, "older »") : null;
  show(p, h("h1", {}, "History of ", repo, "@", p.get("from") || ref, path ? ":" + path : ""),
    h("p", { class: "muted" }, path ? `commits that changed keys under ${path}, newest first` : "first-parent history, newest first"),
    table(["commit", "message", "author", "time", ""], cs.map(c => [link("commit", { repo, id: c.id }, h("span", { class: "mono" }, short(c.id))),
      c.message, c.author, when(c.time), link("tree", { repo, ref: c.id }, "browse")])),
    h("div", { class: "row" }, p.get("from") ? link("log", { repo, ref: p.get("from"), path }, "« newest") : null, older));
}

async function pageCommit(p) {
  const repo = p.get("repo"), id = p.get("id");
  const ref = await api("GET", `/repos/${enc(repo)}/refs/${enc(id)}`);
  const c = ref.info;
  const refs = await refsOf(repo);
  const parent = c.parents[0];
  const revertOut = h("span");
  show(p, h("h1", {}, "Commit ", h("span", { class: "mono" }, short(c.id))),
    h("table", { class: "kv" },
      [["id", h("span", { class: "mono" }, c.id)], ["message", c.message], ["author", c.author], ["time", when(c.time)],
        ["parents", c.parents.map(x => [link("commit", { repo, id: x }, h("span", { class: "mono" }, short(x))), " "])],
        ...Object.entries(c.meta || {}).map(([k, v]) => ["meta " + k, metaValue(k, v)])]
        .map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, v)))),
    h("div", { class: "row" }, link("tree", { repo, ref: c.id }, "Browse at this commit"), "·", link("log", { repo, ref: c.id }, "history from here"),
      parent ? ["·", link("diff", { repo, from: parent, to: c.id }, "full diff with its parent")] : null,
      "·", link("commitprov", { repo, id: c.id }, "provenance graph of this commit")),
    h("h2", {}, "Revert"),
    form({ id: "revert" }, async d => {
      const r = await api("POST", `/repos/${enc(repo)}/branches/${enc(d.branch)}/revert`, { commit: c.id });
      return h("span", { class: "ok" }, "Reverted on ", d.branch, ": commit ", link("commit", { repo, id: r.id }, short(r.id)));
    }, h("select", { name: "branch" }, refs.branches.map(b => h("option", { value: b.name }, b.name))), h("button", { type: "submit" }, "Revert this commit on the branch"), revertOut),
    h("h2", {}, "Branch or tag from this commit"),
    form({ id: "from-commit" }, async d => {
      await api("POST", `/repos/${enc(repo)}/${d.kind}`, { name: d.name, from: c.id });
      return h("span", { class: "ok" }, "Created ", d.name);
    }, h("select", { name: "kind" }, h("option", { value: "branches" }, "branch"), h("option", { value: "tags" }, "tag")),
      field("name", { required: true }), h("button", { type: "submit" }, "Create")),
    h("h2", {}, "Changes"), parent ? await diffTable(repo, parent, c.id, "", "", true) : h("p", { class: "muted" }, "The first commit."));
}

// metaValue links what a pipeline's output commit names: its job, its
// pipeline and its input commits (repo@commit,...): the commit's provenance
// one step up, each step a link.
function metaValue(k, v) {
  if (k === "tusk-job") return link("job", { id: v }, h("span", { class: "mono" }, v));
  if (k === "tusk-pipeline") return link("pipeline", { name: v.split("@")[0] }, v);
  if (k === "tusk-inputs") return h("span", { class: "inputs" }, v.split(",").filter(Boolean).map(x => {
    const [repo, id] = x.split("@");
    return [link("commit", { repo, id }, h("span", { class: "mono" }, `${repo}@${short(id)}`)), " "];
  }));
  return h("span", { class: "mono" }, v);
}

async function diffTable(repo, from, to, prefix, after, compact) {
  const q = `from=${enc(from)}&to=${enc(to)}&limit=${PAGE}` + (prefix ? `&prefix=${enc(prefix)}` : "") + (after ? `&after=${enc(after)}` : "");
  const d = await api("GET", `/repos/${enc(repo)}/diff?${q}`);
  const rows = d.entries.map(e => [h("span", { class: e.change }, e.change),
    link("object", { repo, ref: e.change === "removed" ? from : to, key: e.key }, e.key), e.change === "removed" ? "" : size(e.size), e.change === "added" ? "" : size(e.old_size)]);
  const last = d.entries[d.entries.length - 1];
  return h("div", { id: "diff-result" },
    h("p", {}, `${d.added} added, ${d.changed} changed, ${d.removed} removed on this page` + (d.truncated ? " (more follow)" : "")),
    table(["change", "key", "size", "old size"], rows, [2, 3]),
    h("div", { class: "row" },
      after ? link("diff", { repo, from, to, prefix }, "« first page") : null,
      d.truncated && last ? link("diff", { repo, from, to, prefix, after: last.key }, compact ? "more changes »" : "next page »") : null));
}

async function pageDiff(p) {
  const repo = p.get("repo"), from = p.get("from"), to = p.get("to"), prefix = p.get("prefix") || "";
  show(p, h("h1", {}, "Diff ", repo, "@", from, " → ", to, prefix ? " under " + prefix : ""),
    h("p", {}, link("repo", { repo }, "back to " + repo)), await diffTable(repo, from, to, prefix, p.get("after") || ""));
}

// ---- pipelines ----

async function pagePipelines(p) {
  let ps;
  try { ps = await api("GET", "/pipelines"); } catch (e) { if (e.status === 501) { show(p, h("h1", {}, "Pipelines"), h("p", {}, "Pipelines are disabled on this server.")); return; } throw e; }
  show(p, h("h1", {}, "Pipelines"), table(["pipeline", "state", "inputs", "output", "last job", "version"], ps.map(pl => [
    link("pipeline", { name: pl.name }, pl.name), h("span", { class: "state-" + pl.state }, pl.state), (pl.inputs || []).join(", "),
    pl.output, pl.last_job ? [link("job", { id: pl.last_job.id }, short(pl.last_job.id)), " ", h("span", { class: "state-" + pl.last_job.state }, pl.last_job.state)] : "",
    String(pl.version)])));
}

async function pagePipeline(p) {
  const name = p.get("name");
  const [pl, jobs] = await Promise.all([api("GET", `/pipelines/${enc(name)}`), api("GET", `/jobs?pipeline=${enc(name)}&limit=50`)]);
  show(p, h("h1", {}, "Pipeline ", name),
    h("p", {}, h("span", { class: "state-" + pl.state }, pl.state), ` · version ${pl.version} · output `, link("tree", { repo: name, ref: "main" }, pl.output),
      ` · inputs ${(pl.inputs || []).join(", ")} · created by ${pl.created_by || ""} ${when(pl.created)}`, pl.stopped ? " · stopped: " + pl.stopped : ""),
    h("h2", {}, "Jobs"),
    table(["job", "state", "processed", "skipped", "failed", "total", "duration", "started", "output commit"], jobs.jobs.map(j => [
      link("job", { id: j.id }, h("span", { class: "mono" }, short(j.id))), h("span", { class: "state-" + j.state }, j.state),
      String(j.stats.processed || 0), String(j.stats.skipped || 0), String(j.stats.failed || 0), String(j.stats.total || 0),
      duration(j.started, j.finished), when(j.started), j.output_commit ? link("commit", { repo: j.output_repo, id: j.output_commit }, short(j.output_commit)) : ""]), [2, 3, 4, 5]),
    h("h2", {}, "Spec"), h("pre", { id: "spec" }, JSON.stringify(pl.spec, null, 2)));
}

async function pageJob(p) {
  const id = p.get("id");
  const j = await api("GET", `/jobs/${enc(id)}`);
  const logs = h("div", { id: "failed-logs" }, h("span", { class: "muted" }, "…"));
  show(p, h("h1", {}, "Job ", h("span", { class: "mono" }, short(j.id))),
    h("table", { class: "kv" }, [["pipeline", link("pipeline", { name: j.pipeline }, `${j.pipeline} (version ${j.version})`)],
      ["state", h("span", { class: "state-" + j.state, id: "job-state" }, j.state)], ["reason", j.reason || ""],
      ["datums", `${j.stats.processed || 0} processed, ${j.stats.skipped || 0} skipped, ${j.stats.failed || 0} failed, ${j.stats.total || 0} in all`],
      ["duration", duration(j.started, j.finished)], ["started", when(j.started)], ["finished", when(j.finished)],
      ["inputs", (j.inputs || []).map(i => [link("commit", { repo: i.repo, id: i.commit }, `${i.repo}@${i.branch} ${short(i.commit)}`), " "])],
      ["output", j.output_commit ? link("tree", { repo: j.output_repo, ref: j.output_commit }, `${j.output_repo}@${j.output_branch} ${short(j.output_commit)}`) : "none"]]
      .map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, v)))),
    h("h2", {}, "Failed datums"), logs);
  try {
    const ds = await api("GET", `/jobs/${enc(j.id)}/datums?failed=true`);
    logs.replaceChildren(...(ds.datums.length ? ds.datums.map(d => h("div", { class: "box" },
      h("div", {}, h("b", { class: "mono" }, short(d.id)), ` · ${(d.inputs || []).join(", ")} · exit ${d.exit_code} · ${d.attempts} tries`, d.error ? " · " + d.error : ""),
      h("pre", { class: "datum-log" }, d.log_tail || "(no log)"))) : [h("p", { class: "muted" }, "No datum failed.")]));
  } catch (e) { logs.replaceChildren(errorBox(e)); }
}

// ---- provenance graph (plain SVG) ----

async function pageProv(p) {
  const repo = p.get("repo"), ref = p.get("ref") || "main", key = p.get("key");
  const base = `/repos/${enc(repo)}/prov?ref=${enc(ref)}&key=${enc(key)}`;
  const [up, down] = await Promise.all([api("GET", base), api("GET", base + "&downstream=true")]);
  show(p, h("h1", {}, "Provenance of ", h("span", { class: "mono" }, `${repo}@${ref}:${key}`)),
    h("p", { class: "muted" }, "Left: what made it, back to raw inputs. Right: everything derived from it. Each box opens that object at its commit."),
    provGraph(up.root, down.root));
}

function provGraph(upRoot, downRoot) {
  // Columns: upstream depth d at column -d, downstream at +d; root at 0.
  const cols = new Map(), edges = [];
  const nodeKey = n => `${n.repo}@${n.commit}:${n.key}`;
  const place = (n, col) => {
    if (!cols.has(col)) cols.set(col, []);
    const list = cols.get(col);
    let e = list.find(x => nodeKey(x.n) === nodeKey(n));
    if (!e) { e = { n, col, row: list.length }; list.push(e); }
    return e;
  };
  const root = place(upRoot, 0);
  root.root = true;
  const walk = (n, from, col, dir, depth) => {
    if (depth > 12) return;
    for (const k of (dir < 0 ? n.inputs : n.outputs) || []) {
      const e = place(k, col + dir);
      edges.push(dir < 0 ? [e, from] : [from, e]);
      walk(k, e, col + dir, dir, depth + 1);
    }
  };
  walk(upRoot, root, 0, -1, 0);
  walk(downRoot, root, 0, 1, 0);
  const keys = [...cols.keys()].sort((a, b) => a - b);
  const W = 230, H = 46, GX = 70, GY = 16, min = keys[0];
  const rows = Math.max(...[...cols.values()].map(l => l.length));
  const x = e => 10 + (e.col - min) * (W + GX), y = e => 10 + e.row * (H + GY);
  const width = 20 + keys.length * (W + GX) - GX, height = 20 + rows * (H + GY) - GY;
  const g = svg("svg", { class: "prov", id: "prov-graph", width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "provenance graph" });
  for (const [a, b] of edges) {
    const x1 = x(a) + W, y1 = y(a) + H / 2, x2 = x(b), y2 = y(b) + H / 2, m = (x1 + x2) / 2;
    g.append(svg("path", { d: `M${x1},${y1} C${m},${y1} ${m},${y2} ${x2},${y2}` }));
  }
  for (const list of cols.values()) for (const e of list) {
    const n = e.n;
    const a = svg("a", { href: hashOf("object", { repo: n.repo, ref: n.commit, key: n.key }), class: "prov-node" });
    a.append(svg("rect", { x: x(e), y: y(e), width: W, height: H, rx: 5, class: e.root ? "root" : n.missing ? "missing" : "" }),
      svg("text", { x: x(e) + 8, y: y(e) + 17 }, clip(`${n.repo}:${n.key}`, 34)),
      svg("text", { x: x(e) + 8, y: y(e) + 34 }, clip(`${short(n.commit)}${n.pipeline ? " · " + n.pipeline : " · raw input"}${n.missing ? " · missing" : ""}`, 36)));
    g.append(a);
  }
  return g;
}
// pageCommitProv draws a commit's provenance (GET commit-prov): the input
// commits of the job that made it, recursively, on the left; the commits
// of the jobs that read it, recursively, on the right. Each box opens its
// commit.
async function pageCommitProv(p) {
  const repo = p.get("repo"), id = p.get("id");
  const g = await api("GET", `/repos/${enc(repo)}/commit-prov?ref=${enc(id)}`);
  show(p, h("h1", {}, "Provenance of commit ", h("span", { class: "mono" }, `${repo}@${short(g.commit)}`)),
    h("p", { class: "muted" }, "Left: the input commits of the jobs that made it, back to commits no pipeline made. Right: the commits of the jobs that read it, and onwards. Each box opens that commit."),
    g.truncated ? [h("p", { class: "muted" }, `Cut at ${g.nodes.length} commits.`)] : [],
    commitProvGraph(g));
}

function commitProvGraph(g) {
  const cols = new Map(), at = new Map();
  for (const n of g.nodes) {
    if (!cols.has(n.depth)) cols.set(n.depth, []);
    const e = { n, col: n.depth, row: cols.get(n.depth).length };
    cols.get(n.depth).push(e);
    at.set(`${n.repo}@${n.commit}`, e);
  }
  const keys = [...cols.keys()].sort((a, b) => a - b);
  const W = 230, H = 46, GX = 70, GY = 16, min = keys[0];
  const rows = Math.max(...[...cols.values()].map(l => l.length));
  const x = e => 10 + (e.col - min) * (W + GX), y = e => 10 + e.row * (H + GY);
  const width = 20 + keys.length * (W + GX) - GX, height = 20 + rows * (H + GY) - GY;
  const s = svg("svg", { class: "prov", id: "commit-prov-graph", width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "commit provenance graph" });
  for (const ed of g.edges) {
    const a = at.get(ed.from), b = at.get(ed.to);
    if (!a || !b) continue;
    const x1 = x(a) + W, y1 = y(a) + H / 2, x2 = x(b), y2 = y(b) + H / 2, m = (x1 + x2) / 2;
    s.append(svg("path", { d: `M${x1},${y1} C${m},${y1} ${m},${y2} ${x2},${y2}` }));
  }
  for (const e of at.values()) {
    const n = e.n;
    const a = svg("a", { href: hashOf("commit", { repo: n.repo, id: n.commit }), class: "prov-node", "data-commit": `${n.repo}@${n.commit}` });
    a.append(svg("rect", { x: x(e), y: y(e), width: W, height: H, rx: 5, class: n.depth === 0 ? "root" : "" }),
      svg("text", { x: x(e) + 8, y: y(e) + 17 }, clip(`${n.repo}@${short(n.commit)}`, 34)),
      svg("text", { x: x(e) + 8, y: y(e) + 34 }, clip(n.pipeline ? n.pipeline : (n.message || "no pipeline"), 36)));
    s.append(a);
  }
  return s;
}
function clip(s, n) { return s.length > n ? s.slice(0, n - 1) + "…" : s; }

// ---- admin ----

async function pageUsers(p) {
  const users = await api("GET", "/users");
  const secret = h("div", { id: "new-secret" });
  show(p, h("h1", {}, "Users, keys and permissions"),
    form({ id: "create-user" }, async d => {
      const r = await api("POST", "/users", { name: d.name, admin: d.role === "admin", create_repos: d.role === "create" });
      await route();
      document.getElementById("new-secret").replaceChildren(h("div", { class: "ok" }, `User ${r.user.name || d.name} created. Access key `,
        h("b", { class: "mono" }, r.key ? r.key.access_key : ""), ", secret key ", h("b", { class: "mono" }, r.key ? r.key.secret_key : ""), " (shown only now)."));
    }, field("name", { placeholder: "new user", required: true }),
      h("select", { name: "role" }, h("option", { value: "user" }, "user"), h("option", { value: "create" }, "user who may create repos"), h("option", { value: "admin" }, "admin user")),
      h("button", { type: "submit" }, "Create user")), secret,
    table(["user", "role", "permissions", "keys", "created", ""], users.map(u => [
      u.name, u.admin ? "admin" : u.create_repos ? "creates repos" : "user",
      Object.entries(u.perms || {}).map(([r, l]) => h("div", {}, `${r}: ${l} `, h("a", { href: "#", onclick: async ev => {
        ev.preventDefault(); await api("DELETE", `/users/${enc(u.name)}/perms/${enc(r)}`); route();
      } }, "revoke"))),
      keysCell(u.name, u.keys), when(u.created),
      u.name === S.user ? "" : h("button", { class: "danger", type: "button", onclick: async ev => {
        const b = ev.target;
        if (b.dataset.armed) { await api("DELETE", `/users/${enc(u.name)}`); route(); } else { b.dataset.armed = "1"; b.textContent = "Click again to delete " + u.name; }
      } }, "Delete user")])),
    h("h2", {}, "Grant a permission"),
    form({ id: "grant" }, async d => {
      await api("PUT", `/users/${enc(d.user)}/perms/${enc(d.repo)}`, { permission: d.level }); route();
    }, field("user", { required: true }), field("repo", { required: true }),
      h("select", { name: "level" }, ["read", "write", "admin"].map(l => h("option", { value: l }, l))), h("button", { type: "submit" }, "Grant")));
}

function keysCell(user, count) {
  const el = h("div", {}, `${count} `);
  el.append(h("a", { href: "#", onclick: async ev => {
    ev.preventDefault();
    const keys = await api("GET", `/keys?user=${enc(user)}`);
    el.replaceChildren(...keys.map(k => h("div", { class: "mono" }, k.id, " ", h("a", { href: "#", onclick: async e2 => {
      e2.preventDefault(); await api("DELETE", `/keys/${enc(k.id)}`); route();
    } }, "revoke"))), h("a", { href: "#", onclick: async e2 => {
      e2.preventDefault();
      const k = await api("POST", "/keys", { user });
      el.append(h("div", { class: "ok" }, "New key ", h("b", { class: "mono" }, k.access_key), ", secret ", h("b", { class: "mono" }, k.secret_key), " (shown only now)"));
    } }, "new key"));
  } }, "show"));
  return el;
}

async function pageAudit(p) {
  // Newest first, a page at a time: the log pages with a cursor.
  const limit = p.get("limit") || "200", user = p.get("user") || "", action = p.get("action") || "", cursor = p.get("cursor") || "";
  const q = new URLSearchParams({ limit, order: "newest" });
  if (user) q.set("user", user);
  if (action) q.set("action", action);
  if (cursor) q.set("cursor", cursor);
  const a = await api("GET", "/audit?" + q);
  show(p, h("h1", {}, "Audit log"),
    form({}, async d => go("audit", d), field("user", { value: user }), field("action", { value: action }),
      field("limit", { value: limit, size: 5 }), h("button", { type: "submit" }, "Filter")),
    table(["time", "user", "action", "target", "result", "detail"], a.entries.map(e => [when(e.time), e.user, e.action, h("span", { class: "mono" }, e.target), e.result || "", e.detail || ""])),
    h("p", {}, cursor ? link("audit", { user, action, limit }, "« newest") : null, " ",
      a.next ? link("audit", { user, action, limit, cursor: a.next }, "older »") : null));
}

// ---- router ----

const ROUTES = { login: pageLogin, repos: pageRepos, repo: pageRepo, tree: pageTree, object: pageObject, log: pageLog,
  commit: pageCommit, diff: pageDiff, pipelines: pagePipelines, pipeline: pagePipeline, job: pageJob, prov: pageProv,
  commitprov: pageCommitProv,
  users: pageUsers, audit: pageAudit };

async function route() {
  const hash = location.hash.replace(/^#\/?/, "");
  const [name, qs] = [hash.split("?")[0] || "repos", hash.includes("?") ? hash.slice(hash.indexOf("?") + 1) : ""];
  const page = ROUTES[name] || pageRepos;
  if (!S.user && page !== pageLogin) { go("login", { next: "/" + hash }); return; }
  const p = new URLSearchParams(qs);
  p.gen = ++routeGen;
  try {
    await page(p);
  } catch (e) {
    if (S.user) show(p, h("h1", {}, "Error"), errorBox(e));
  }
  if (p.gen === routeGen) document.body.dataset.page = name;
}

async function start() {
  document.getElementById("signout").addEventListener("click", signOut);
  window.addEventListener("hashchange", route);
  const r = await fetch("/ui/session", { credentials: "same-origin" });
  if (r.ok) {
    try { await signedIn(await r.json()); } catch (_) { /* the session died between the calls */ }
  }
  route();
}

document.addEventListener("DOMContentLoaded", start);
