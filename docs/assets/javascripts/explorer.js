// The gradient-flow explorer: one radio group per choice, and an SVG line chart of the per-layer
// gradient norms that the build recorded for that choice (a JSON script element on the page).
// Material's instant navigation swaps pages without a reload, so set up on every page change.
document$.subscribe(({ body }) => {
  for (const root of body.querySelectorAll(".explorer[data-source]")) {
    if (!root.dataset.ready) explorer(root);
  }
});

const SVG = "http://www.w3.org/2000/svg";
const XHTML = "http://www.w3.org/1999/xhtml";
const [WIDTH, HEIGHT] = [720, 400];
const BOX = { left: 72, right: WIDTH - 16, top: 64, bottom: HEIGHT - 52 };

function node(name, attributes = {}, text = "", namespace = SVG) {
  const el = document.createElementNS(namespace, name);
  for (const [key, value] of Object.entries(attributes)) el.setAttribute(key, value);
  if (text) el.textContent = text;
  return el;
}

const html = (name, attributes = {}, text = "") => node(name, attributes, text, XHTML);

function explorer(root) {
  const data = JSON.parse(document.getElementById(root.dataset.source).textContent);
  const names = data.controls.map(([name]) => name);
  const choice = data.start.map(String);
  const [referenceName, referenceValue] = data.reference;
  const pick = (values, name) => values[names.indexOf(name)];

  const controls = html("div", { class: "explorer__controls" });
  data.controls.forEach(([name, values], at) => {
    const group = html("fieldset");
    group.append(html("legend", {}, name));
    for (const value of values.map(String)) {
      const label = html("label");
      const input = html("input", { type: "radio", name: `${root.dataset.source}-${at}`, value });
      input.checked = value === choice[at];
      label.append(input, ` ${value}`);
      group.append(label);
    }
    group.addEventListener("change", (event) => {
      choice[at] = event.target.value;
      draw();
    });
    controls.append(group);
  });
  const title = node("title");
  const plot = node("g");
  const chart = node("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img" });
  chart.append(title, plot);
  const status = html("p", { class: "explorer__status", "aria-live": "polite" });
  root.append(controls, chart, status);
  root.dataset.ready = "yes";
  const fallback = document.getElementById(root.dataset.fallback);
  if (fallback) fallback.hidden = true;
  draw();

  function draw() {
    const describe = (c) =>
      `${pick(c, "Architecture")}, ${pick(c, "Activation")}, ` +
      `${pick(c, "Initialization")} init, ${pick(c, "Depth")} layers`;
    const lines = [{ choice, style: "line" }];
    if (pick(choice, referenceName) !== referenceValue) {
      const reference = [...choice];
      reference[names.indexOf(referenceName)] = referenceValue;
      lines.push({ choice: reference, style: "reference" });
    }
    for (const line of lines) {
      line.norms = data.norms[line.choice.join("|")];
      line.label = describe(line.choice);
    }
    const labels = lines.map((line) => line.label).join("; compared with ");
    title.textContent = `Gradient norm per layer, log scale: ${labels}`;
    const ratio = ({ norms }) => (norms[0] / norms[norms.length - 1]).toPrecision(2);
    status.textContent =
      `The first layer's gradient norm is ${ratio(lines[0])} times the last layer's` +
      (lines[1] ? ` (${referenceValue}: ${ratio(lines[1])} times).` : ".");
    plot.replaceChildren(...axes(lines), ...legend(lines));
  }
}

// A log-scale y axis with a tick per decade (every 2, 5, 10... over a wide range), layers along x, and the
// lines, the current selection drawn last so that it lies on top.
function axes(lines) {
  const logs = lines.flatMap((line) => line.norms.map(Math.log10));
  let [low, high] = [Math.floor(Math.min(...logs)), Math.ceil(Math.max(...logs))];
  if (high - low < 3) [low, high] = [low - 1, high + 1];
  const step = [1, 2, 5, 10, 20, 50, 100].find((s) => (high - low) / s <= 8) ?? 200;
  [low, high] = [Math.floor(low / step) * step, Math.ceil(high / step) * step];
  const depth = lines[0].norms.length;
  const x = (layer) => BOX.left + ((layer - 1) / (depth - 1)) * (BOX.right - BOX.left);
  const y = (log) => BOX.bottom - ((log - low) / (high - low)) * (BOX.bottom - BOX.top);
  const parts = [];
  for (let power = low; power <= high; power += step) {
    const at = y(power);
    parts.push(node("line", { class: "explorer__grid", x1: BOX.left, x2: BOX.right, y1: at, y2: at }));
    const label = node("text", { x: BOX.left - 8, y: at + 5, "text-anchor": "end" }, "10");
    label.append(node("tspan", { dy: -7, class: "explorer__small" }, `${power}`.replace("-", "\u2212")));
    parts.push(label);
  }
  const every = Math.max(1, depth / 8);
  for (const layer of [1, ...Array.from({ length: depth / every }, (_, i) => (i + 1) * every)]) {
    const at = x(layer);
    parts.push(
      node("line", { class: "explorer__axis", x1: at, x2: at, y1: BOX.bottom, y2: BOX.bottom + 5 }),
      node("text", { x: at, y: BOX.bottom + 22, "text-anchor": "middle" }, `${layer}`),
    );
  }
  const middle = (BOX.top + BOX.bottom) / 2;
  const ylabel = node("text", { transform: `translate(20 ${middle}) rotate(-90)`,
    "text-anchor": "middle" }, "\u2016\u2202L/\u2202W");
  ylabel.append(node("tspan", { dy: 5, class: "explorer__small" }, "l"),
    node("tspan", { dy: -5 }, "\u2016"));
  parts.push(
    node("line", { class: "explorer__axis", x1: BOX.left, x2: BOX.right, y1: BOX.bottom,
      y2: BOX.bottom }),
    node("text", { x: (BOX.left + BOX.right) / 2, y: HEIGHT - 8, "text-anchor": "middle" },
      "layer l (1 = next to the input)"),
    ylabel,
  );
  for (const line of [...lines].reverse()) {
    const points = line.norms.map((norm, i) => `${x(i + 1).toFixed(1)},${y(Math.log10(norm)).toFixed(1)}`);
    parts.push(node("path", { class: `explorer__${line.style}`, d: `M${points.join("L")}` }));
  }
  return parts;
}

function legend(lines) {
  return lines.flatMap((line, row) => {
    const top = 18 + row * 24;
    return [
      node("line", { class: `explorer__${line.style}`, x1: BOX.left, x2: BOX.left + 36, y1: top,
        y2: top }),
      node("text", { x: BOX.left + 46, y: top + 5 }, line.label),
    ];
  });
}
