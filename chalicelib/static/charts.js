// Charts drawn as SVG by the page itself (no library): columns with an optional comparison line,
// horizontal bars, a line chart and a ring. Each is drawn at its container's width and redrawn
// when that width changes, so text stays readable from a phone to a wide screen.
import { h, s, mount } from "./dom.js";

function niceStep(max, ticks) {
  const raw = max / ticks;
  const power = 10 ** Math.floor(Math.log10(raw || 1));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((c) => c >= raw) || 10 * power;
  return step;
}

function scale(max, ticks = 4) {
  if (!(max > 0)) return { top: 1, step: 0.25, ticks: [0, 0.25, 0.5, 0.75, 1] };
  const step = niceStep(max, ticks);
  const top = Math.ceil(max / step) * step;
  const list = [];
  for (let v = 0; v <= top + step / 2; v += step) list.push(v);
  return { top, step, ticks: list };
}

// Draws `draw(width)` into `container` now and whenever its width changes.
export function responsive(container, draw) {
  let last = 0;
  const render = () => {
    const width = Math.max(260, Math.floor(container.clientWidth || 640));
    if (Math.abs(width - last) < 4) return;
    last = width;
    mount(container, draw(width));
  };
  render();
  if (window.ResizeObserver) {
    const observer = new ResizeObserver(() => render());
    observer.observe(container);
    return () => observer.disconnect();
  }
  return () => {};
}

function empty(width, height, text) {
  return s("svg", { class: "chart", width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": text },
    s("text", { x: width / 2, y: height / 2, class: "chart-empty", "text-anchor": "middle" }, text));
}

// Vertical columns. data: [{label, value, title}], compare: same length [{value}] drawn as a line.
export function columns(width, data, { height = 220, axis = (v) => String(v), label = "", compare = null,
  compareLabel = "", emptyText = "", highlight = -1, tone = "primary" } = {}) {
  const values = data.map((d) => d.value || 0).concat((compare || []).map((d) => d.value || 0));
  if (!data.length || !values.some((v) => v > 0)) return empty(width, height, emptyText);
  const left = 56, right = 12, top = 14, bottom = 28;
  const plotW = width - left - right, plotH = height - top - bottom;
  const { top: maxV, ticks } = scale(Math.max(...values));
  const y = (v) => top + plotH - (v / maxV) * plotH;
  const band = plotW / data.length;
  const barW = Math.max(2, Math.min(38, band * 0.62));
  const every = Math.ceil(data.length / Math.max(1, Math.floor(plotW / 44)));
  const svg = s("svg", { class: "chart", width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label });
  ticks.forEach((v) => {
    svg.append(s("line", { x1: left, x2: width - right, y1: y(v), y2: y(v), class: v === 0 ? "axis" : "grid" }),
      s("text", { x: left - 8, y: y(v) + 4, "text-anchor": "end", class: "tick" }, axis(v)));
  });
  data.forEach((d, i) => {
    const x = left + i * band + (band - barW) / 2;
    const barH = Math.max(d.value > 0 ? 1.5 : 0, ((d.value || 0) / maxV) * plotH);
    const bar = barH <= 0 ? null : s("rect", { x, y: top + plotH - barH, width: barW, height: barH, rx: Math.min(3, barW / 3),
      class: ["bar", `bar-${tone}`, i === highlight && "bar-highlight"] }, s("title", {}, d.title || `${d.label}: ${d.value}`));
    if (bar) svg.append(bar);
    if (i % every === 0) {
      svg.append(s("text", { x: left + i * band + band / 2, y: height - 9, "text-anchor": "middle", class: "tick" }, d.label));
    }
  });
  if (compare && compare.some((c) => c.value > 0)) {
    const points = compare.map((c, i) => `${left + i * band + band / 2},${y(c.value || 0)}`).join(" ");
    svg.append(s("polyline", { points, class: "compare-line" }, s("title", {}, compareLabel)));
  }
  return svg;
}

// About how wide a label is drawn (CJK characters are about twice a Latin one).
export function textWidth(text, size = 12.5) {
  let width = 0;
  for (const ch of String(text)) width += /[\u2e80-\uffff]/.test(ch) ? size : size * 0.58;
  return width;
}

// Horizontal bars: [{label, value, text, tone}] with value in 0..max; the text is printed at the end.
export function hbars(width, data, { max = null, label = "", emptyText = "", labelWidth = null } = {}) {
  const rowH = 30, height = Math.max(60, data.length * rowH + 8);
  if (labelWidth === null) labelWidth = Math.min(width * 0.45, Math.max(48, ...data.map((d) => textWidth(d.label))) + 16);
  if (!data.length) return empty(width, 60, emptyText);
  const top = max || Math.max(...data.map((d) => d.value || 0)) || 1;
  const textW = 96, plotW = Math.max(40, width - labelWidth - textW - 16);
  const svg = s("svg", { class: "chart", width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label });
  data.forEach((d, i) => {
    const yMid = 4 + i * rowH + rowH / 2;
    const w = Math.max(d.value > 0 ? 2 : 0, ((d.value || 0) / top) * plotW);
    svg.append(
      s("text", { x: labelWidth - 10, y: yMid + 4, "text-anchor": "end", class: "hbar-label" }, d.label),
      s("rect", { x: labelWidth, y: yMid - 8, width: plotW, height: 16, rx: 4, class: "track" }),
      s("rect", { x: labelWidth, y: yMid - 8, width: w, height: 16, rx: 4, class: ["bar", `bar-${d.tone || "primary"}`] },
        s("title", {}, `${d.label}: ${d.text}`)),
      s("text", { x: labelWidth + plotW + 10, y: yMid + 4, class: "hbar-value" }, d.text));
  });
  return svg;
}

// Lines over shared x labels: series [{name, values: [..], tone}], values 0..max (null = gap).
export function lines(width, labels, series, { height = 200, axis = (v) => String(v), label = "", emptyText = "",
  max = null } = {}) {
  const all = series.flatMap((x) => x.values).filter((v) => v !== null && v !== undefined);
  if (!labels.length || !all.length) return empty(width, height, emptyText);
  const left = 56, right = 14, top = 14, bottom = 28;
  const plotW = width - left - right, plotH = height - top - bottom;
  const { top: maxV, ticks } = max ? { top: max, ticks: [0, max / 4, max / 2, (3 * max) / 4, max] } : scale(Math.max(...all));
  const step = labels.length > 1 ? plotW / (labels.length - 1) : 0;
  const x = (i) => left + (labels.length > 1 ? i * step : plotW / 2);
  const y = (v) => top + plotH - (v / maxV) * plotH;
  const every = Math.ceil(labels.length / Math.max(1, Math.floor(plotW / 52)));
  const svg = s("svg", { class: "chart", width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label });
  ticks.forEach((v) => svg.append(
    s("line", { x1: left, x2: width - right, y1: y(v), y2: y(v), class: v === 0 ? "axis" : "grid" }),
    s("text", { x: left - 8, y: y(v) + 4, "text-anchor": "end", class: "tick" }, axis(v))));
  labels.forEach((text, i) => {
    if (i % every === 0) svg.append(s("text", { x: x(i), y: height - 9, "text-anchor": "middle", class: "tick" }, text));
  });
  series.forEach((line) => {
    let d = "";
    line.values.forEach((v, i) => {
      if (v === null || v === undefined) return;
      d += `${d && line.values[i - 1] !== null && line.values[i - 1] !== undefined ? "L" : "M"}${x(i)},${y(v)}`;
    });
    svg.append(s("path", { d, class: ["line", `line-${line.tone || "primary"}`] }));
    line.values.forEach((v, i) => {
      if (v === null || v === undefined) return;
      svg.append(s("circle", { cx: x(i), cy: y(v), r: 3, class: ["dot", `line-${line.tone || "primary"}`] },
        s("title", {}, `${labels[i]} · ${line.name}: ${axis(v)}`)));
    });
  });
  return svg;
}

// A ring showing one share (0..1) with a caption in the middle.
export function ring(share, caption, { size = 132, tone = "primary", label = "" } = {}) {
  const r = size / 2 - 10, c = 2 * Math.PI * r;
  const value = Math.max(0, Math.min(1, share || 0));
  return s("svg", { class: "chart ring", width: size, height: size, viewBox: `0 0 ${size} ${size}`, role: "img", "aria-label": label },
    s("circle", { cx: size / 2, cy: size / 2, r, class: "ring-track" }),
    s("circle", { cx: size / 2, cy: size / 2, r, class: ["ring-value", `ring-${tone}`],
      "stroke-dasharray": `${value * c} ${c}`, transform: `rotate(-90 ${size / 2} ${size / 2})` }),
    s("text", { x: size / 2, y: size / 2 + 7, "text-anchor": "middle", class: "ring-text" }, caption));
}

export function legend(items) {
  return h("div", { class: "legend" }, items.map((item) =>
    h("span", { class: "legend-item" }, h("i", { class: ["swatch", `swatch-${item.tone}`] }), item.label)));
}
