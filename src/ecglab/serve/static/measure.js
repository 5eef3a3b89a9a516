// ecglab web page: the measurement line (HR, PR, QRS, QT, QTc, axes) and the P, QRS and T waves shaded on the
// drawn leads, from POST /measure. Loaded before app.js, whose state, $ and getJSON it uses when called.
"use strict";

const MEASURES = [
  ["heart_rate_bpm", "HR", "bpm"], ["pr_ms", "PR", "ms"], ["qrs_ms", "QRS", "ms"], ["qt_ms", "QT", "ms"],
  ["qtc_bazett_ms", "QTc Bazett", "ms"], ["qtc_fridericia_ms", "QTc Fridericia", "ms"],
  ["p_axis_deg", "P axis", "°"], ["qrs_axis_deg", "QRS axis", "°"], ["t_axis_deg", "T axis", "°"],
];
const WAVE_COLOURS = { P: "rgba(31, 119, 180, 0.25)", QRS: "rgba(255, 127, 14, 0.3)", T: "rgba(148, 103, 189, 0.25)" };
const WAVE_NAMES = { P: "P wave", QRS: "QRS complex", T: "T wave" };
const WAVE_HALF_HEIGHT_MV = 1.4;   // a shaded band covers 28 mm of its lead's 35-mm row

const measured = { delineator: null, result: null };

// Whether the server measures (it does unless started with --delineator none).
async function initMeasure() {
  measured.delineator = (await getJSON("/health")).delineator;
}

function clearMeasure() {
  measured.result = null;
  $("measurements").hidden = true;
  $("measurements").replaceChildren();
}

// Starts POST /measure on the same upload; resolves to the result, to an Error, or to null without a delineator.
function requestMeasure(form) {
  if (!measured.delineator) return Promise.resolve(null);
  return getJSON("/measure", { method: "POST", body: form }).catch((error) => error);
}

// Waits for the measurement, writes its line and shades the drawn leads.
async function showMeasure(pending) {
  const result = await pending;
  if (!result) return;
  const line = $("measurements");
  line.hidden = false;
  if (result instanceof Error) {
    line.textContent = `Measurements unavailable: ${result.message}`;
    return;
  }
  measured.result = result;
  line.replaceChildren(...MEASURES.map(([name, label, unit]) => measureItem(result, name, label, unit)));
  line.title = `P, QRS and T waves found by ${result.delineator} on ${result.leads_delineated.length} leads`;
  shadeWaves();
}

// One value of the line: "QRS 98 ms", or "QRS —" with the reason it is missing as its tooltip.
function measureItem(result, name, label, unit) {
  const value = result.measurements[name];
  const item = Object.assign(document.createElement("span"), { className: "measure" });
  item.dataset.name = name;
  item.append(Object.assign(document.createElement("b"), { textContent: label }), " ");
  if (value === null || value === undefined) {
    item.append("—");
    item.classList.add("missing");
    item.title = result.reasons[name] || "not measured";
  } else {
    item.append(`${Math.round(value)}${unit === "°" ? "" : " "}${unit}`);
    item.title = `median over ${result.beat_counts[name]} beats`;
  }
  return item;
}

// One translucent trace per wave kind (P, QRS, T): a band under each wave of every drawn lead, so the legend
// names each colour once. Drawn beneath the leads; redrawn by app.js whenever the ECG is.
function shadeWaves() {
  const result = measured.result;
  if (!result || !state.layout) return;
  const bands = { P: { x: [], y: [] }, QRS: { x: [], y: [] }, T: { x: [], y: [] } };
  for (const place of state.layout.places) {
    for (const wave of result.waves) {
      const t0 = wave.onset / result.fs, t1 = wave.offset / result.fs;
      if (wave.lead !== place.lead || t1 < place.t0 || t0 >= place.t1) continue;
      const low = place.baseline - WAVE_HALF_HEIGHT_MV, high = place.baseline + WAVE_HALF_HEIGHT_MV;
      const [a, b] = [Math.max(t0, place.t0), Math.min(t1, place.t1)];
      bands[wave.wave].x.push(a, a, b, b, a, null);
      bands[wave.wave].y.push(low, high, high, low, low, null);
    }
  }
  const traces = Object.entries(bands).map(([kind, band]) => ({
    x: band.x, y: band.y, mode: "lines", fill: "toself", fillcolor: WAVE_COLOURS[kind], line: { width: 0 },
    name: WAVE_NAMES[kind], meta: "wave", showlegend: true, hoveron: "fills", hoverinfo: "name",
  }));
  Plotly.addTraces("ecg", traces, [0, 1, 2]);
  Plotly.relayout("ecg", { showlegend: true });
}
