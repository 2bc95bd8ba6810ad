// catalens web page: text / photo / similar search, class and kind filters, live feed (SSE).
// Plain browser JavaScript, no build step, no third-party code.
"use strict";

const $ = (id) => document.getElementById(id);
const PAGE = 24;
const FEED_MAX = 30;
const state = { query: null, offset: 0, file: null };

function filterParams() {
  const params = new URLSearchParams();
  const label = $("label-filter").value;
  if (label) params.append("label", label);
  params.set("kind", $("kind-filter").value);
  params.set("limit", PAGE);
  params.set("offset", state.offset);
  return params;
}

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

async function api(url, options = {}) {
  const response = await fetch(url, options);
  const body = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    const error = new Error((body && body.detail) || `request failed (${response.status})`);
    error.status = response.status;
    error.reason = body && body.error;
    throw error;
  }
  return body;
}

function card(hit) {
  const node = $("card-template").content.firstElementChild.cloneNode(true);
  node.dataset.objectId = hit.object_id;
  node.dataset.imageId = hit.image_id;
  node.dataset.label = hit.label;
  node.dataset.kind = hit.kind;
  node.querySelector(".crop").src = hit.crop_url;
  node.querySelector(".crop").alt = hit.caption || hit.label;
  const context = node.querySelector(".context");
  if (hit.kind === "object") context.src = hit.boxes_url; else context.remove();
  node.querySelector(".label").textContent = hit.label;
  node.querySelector(".score").textContent = hit.score === undefined ? "" : hit.score.toFixed(3);
  node.querySelector(".caption").textContent = hit.caption || "";
  node.addEventListener("click", (event) => {
    if (event.target === context) showSource(hit); else similarTo(hit);
  });
  node.addEventListener("keydown", (event) => { if (event.key === "Enter") similarTo(hit); });
  return node;
}

function render(items, append) {
  const grid = $("results");
  if (!append) grid.replaceChildren();
  grid.append(...items.map(card));
}

async function run(append = false) {
  const q = state.query;
  if (!q) return showRecent();
  if (!append) state.offset = 0;
  const params = filterParams();
  let page;
  setStatus("Searching…");
  try {
    if (q.type === "text") {
      params.set("q", q.text);
      page = await api(`/api/search/text?${params}`);
    } else if (q.type === "image") {
      const form = new FormData();
      form.append("file", q.file);
      page = await api(`/api/search/image?${params}`, { method: "POST", body: form });
    } else {
      page = await api(`/api/objects/${encodeURIComponent(q.objectId)}/similar?${params}`);
    }
  } catch (error) {
    setStatus(error.message, true);
    return;
  }
  if (q.type === "image" && page.objects.some((o) => o.kind === "object")) {
    look.show(page, q.file, showLookObject);
    return;
  }
  look.hide();
  render(page.hits, append);
  const shown = $("results").children.length;
  const what = q.type === "text" ? `“${q.text}”` : q.type === "image" ? "your photo" : `this ${q.label}`;
  const verb = q.type === "similar" ? "similar to" : q.type === "image" ? "looking like" : "for";
  setStatus(shown ? `${shown} result${shown === 1 ? "" : "s"} ${verb} ${what}` : `No results ${verb} ${what}`);
  $("results").dataset.mode = q.type;
  $("more-button").hidden = page.next_offset === null;
  state.offset = page.next_offset ?? state.offset;
}

function showLookObject(obj, detected) {
  render(obj.hits, false);
  $("results").dataset.mode = "look";
  $("more-button").hidden = true;
  const found = detected ? `${detected} item${detected === 1 ? "" : "s"} found in your photo` : "No items found in your photo";
  const n = obj.hits.length;
  setStatus(`${found} · ${n} match${n === 1 ? "" : "es"} for ${obj.kind === "image" ? "the whole photo" : `the ${obj.label}`}`);
}

async function showRecent() {
  look.hide();
  try {
    const body = await api(`/api/recent?limit=${PAGE}`);
    render(body.objects, false);
    $("results").dataset.mode = "recent";
    setStatus(body.objects.length ? "Newest in the catalog" : "The catalog is empty: add a photo to start.");
  } catch (error) {
    setStatus(error.message, true);
  }
  $("more-button").hidden = true;
}

function similarTo(hit) {
  state.query = { type: "similar", objectId: hit.object_id, label: hit.label };
  run();
  window.scrollTo({ top: 0, behavior: "smooth" });
}

function showSource(hit) {
  $("viewer-image").src = hit.boxes_url;
  $("viewer-caption").textContent = [hit.label, hit.caption].filter(Boolean).join(" — ");
  $("viewer").showModal();
}

function choosePhoto(file) {
  if (!file) return;
  state.file = file;
  const preview = $("query-preview");
  if (preview.src) URL.revokeObjectURL(preview.src);
  preview.src = URL.createObjectURL(file);
  preview.hidden = false;
  $("ingest-button").disabled = false;
  state.query = { type: "image", file };
  run();
}

async function ingest() {
  if (!state.file) return;
  const send = () => {
    const form = new FormData();
    form.append("file", state.file);
    form.append("source", "web");
    const token = sessionStorage.getItem("catalens-token");
    const headers = token ? { Authorization: `Bearer ${token}` } : {};
    return api("/api/images", { method: "POST", body: form, headers });
  };
  try {
    let result;
    try {
      result = await send();
    } catch (error) {
      if (error.status !== 401) throw error;
      const token = window.prompt("This catalog needs a write token to add photos:");
      if (!token) return;
      sessionStorage.setItem("catalens-token", token);
      result = await send();
    }
    const said = {
      duplicate: "That photo is already in the catalog.",
      indexed: `Photo added with ${result.objects} object${result.objects === 1 ? "" : "s"}: searchable now.`,
      accepted: "Photo accepted: its objects appear in the live feed as they are indexed.",
    };
    setStatus(said[result.status] || said.accepted);
  } catch (error) {
    setStatus(error.message, true);
  }
}

async function loadLabels() {
  try {
    const { labels } = await api("/api/labels");
    const select = $("label-filter");
    const chosen = select.value;
    select.replaceChildren(new Option("All classes", ""), ...labels.map((l) => new Option(l, l)));
    select.value = labels.includes(chosen) ? chosen : "";
  } catch (error) { /* the filter stays at "All classes" */ }
}

function feedItem(obj) {
  const li = document.createElement("li");
  li.dataset.testid = "feed-item";
  li.dataset.objectId = obj.object_id;
  const img = document.createElement("img");
  img.src = obj.crop_url;
  img.alt = "";
  const what = document.createElement("div");
  what.className = "what";
  what.textContent = obj.label;
  const small = document.createElement("small");
  small.textContent = obj.caption || obj.source || obj.image_id;
  what.append(small);
  li.append(img, what);
  li.addEventListener("click", () => similarTo(obj));
  return li;
}

function addToFeed(obj, fresh) {
  const list = $("feed");
  if (list.querySelector(`[data-object-id="${CSS.escape(obj.object_id)}"]`)) return;
  const li = feedItem(obj);
  if (fresh) li.classList.add("fresh");
  list.prepend(li);
  while (list.children.length > FEED_MAX) list.lastElementChild.remove();
}

async function startFeed() {
  try {
    const body = await api(`/api/recent?limit=12`);
    body.objects.slice().reverse().forEach((obj) => addToFeed(obj, false));
  } catch (error) { /* the live feed fills in as objects arrive */ }
  const source = new EventSource("/api/feed");
  source.addEventListener("open", () => $("feed-state").classList.add("live"));
  source.addEventListener("error", () => $("feed-state").classList.remove("live"));
  source.addEventListener("object", (event) => {
    const obj = JSON.parse(event.data);
    addToFeed(obj, true);
    if (!$("label-filter").querySelector(`option[value="${CSS.escape(obj.label)}"]`)) loadLabels();
    if (!state.query) showRecent();
  });
}

async function showIndex() {
  try {
    const s = await api("/api/index");
    const parts = [`${s.vectors.toLocaleString()} vectors`, s.index_type || "no index yet", s.model];
    if (s.generation) parts.push(`generation ${s.generation}`);
    if (s.behind) parts.push(`${s.behind.toLocaleString()} records behind`);
    $("index-state").textContent = `Index: ${parts.join(" · ")}`;
  } catch (error) {
    $("index-state").textContent = "";
  }
}

function wireDropzone() {
  const zone = $("dropzone");
  $("image-input").addEventListener("change", (event) => choosePhoto(event.target.files[0]));
  for (const name of ["dragenter", "dragover"]) {
    zone.addEventListener(name, (event) => { event.preventDefault(); zone.classList.add("dragging"); });
  }
  for (const name of ["dragleave", "drop"]) {
    zone.addEventListener(name, () => zone.classList.remove("dragging"));
  }
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    choosePhoto(event.dataTransfer.files[0]);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("q").value.trim();
    state.query = text ? { type: "text", text } : null;
    run();
  });
  $("label-filter").addEventListener("change", () => run());
  $("kind-filter").addEventListener("change", () => run());
  $("more-button").addEventListener("click", () => run(true));
  $("ingest-button").addEventListener("click", ingest);
  wireDropzone();
  loadLabels();
  showRecent();
  startFeed();
  showIndex();
  setInterval(showIndex, 10000);
});
