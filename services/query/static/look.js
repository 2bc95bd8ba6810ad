// Shop the look: the query photo with a box per detected object; choosing a box (or its chip)
// shows that object's hits. Plain browser JavaScript, loaded before app.js.
"use strict";

const look = (() => {
  const el = (id) => document.getElementById(id);
  let current = null;

  function name(obj) {
    return obj.kind === "image" ? "Whole photo" : obj.label;
  }

  function percent(value, total) {
    return `${(100 * value / total).toFixed(3)}%`;
  }

  // A button that selects the object at `index` (a box on the photo, or a chip).
  function selector(kind, obj, index) {
    const node = document.createElement("button");
    node.type = "button";
    node.className = kind === "box" ? "look-box" : "chip";
    node.dataset.testid = `look-${kind}`;
    node.dataset.index = index;
    node.dataset.label = obj.label;
    return node;
  }

  function box(obj, index, page) {
    const [x1, y1, x2, y2] = obj.box;
    const node = selector("box", obj, index);
    node.title = `${obj.label} ${obj.score.toFixed(2)}: show its matches`;
    Object.assign(node.style, {
      left: percent(x1, page.width), top: percent(y1, page.height),
      width: percent(x2 - x1, page.width), height: percent(y2 - y1, page.height),
    });
    const tag = document.createElement("span");
    tag.textContent = obj.label;
    node.append(tag);
    return node;
  }

  function chip(obj, index) {
    const node = selector("chip", obj, index);
    node.textContent = obj.kind === "image" ? name(obj) : `${obj.label} ${obj.score.toFixed(2)}`;
    return node;
  }

  function select(index) {
    const page = current.page;
    const obj = page.objects[index];
    for (const node of document.querySelectorAll("#look [data-index]")) {
      node.classList.toggle("selected", Number(node.dataset.index) === index);
    }
    el("look").dataset.selected = obj.label;
    current.onSelect(obj, page.objects.length - 1);
  }

  // Show `page` (a photo search answer with `objects`) over the uploaded `file`.
  function show(page, file, onSelect) {
    current = { page, onSelect };
    const image = el("look-image");
    if (image.src) URL.revokeObjectURL(image.src);
    image.src = URL.createObjectURL(file);
    const objects = page.objects;
    const area = (o) => (o.box[2] - o.box[0]) * (o.box[3] - o.box[1]);
    const order = objects.map((o, i) => i).filter((i) => objects[i].kind === "object");
    order.sort((a, b) => area(objects[b]) - area(objects[a]));  // small boxes on top: clickable
    const boxes = order.map((i) => box(objects[i], i, page));
    el("look-boxes").replaceChildren(...boxes);
    el("look-objects").replaceChildren(...objects.map(chip));
    el("look").hidden = false;
    select(0);  // the most confident object, or the whole photo when nothing was found
  }

  function hide() {
    el("look").hidden = true;
    current = null;
  }

  document.addEventListener("DOMContentLoaded", () => {
    el("look").addEventListener("click", (event) => {
      const target = event.target.closest("[data-index]");
      if (target && current) select(Number(target.dataset.index));
    });
  });

  return { show, hide, name };
})();
