// ecglab web page: upload a record, draw it on ECG grid paper, show the model's probabilities.
// Paper geometry in data units: x in seconds, y in mV; 25 mm/s and 10 mm/mV give a y/x scale ratio of 0.4.
"use strict";

const ROW_MV = 3.5;             // 35 mm per row
const CAL_S = 0.4;              // left margin holding the 1 mV calibration pulse
const STANDARD = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"];
const COLUMNS = [["I", "II", "III"], ["aVR", "aVL", "aVF"], ["V1", "V2", "V3"], ["V4", "V5", "V6"]];
const CLASS_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"];
const $ = (id) => document.getElementById(id);

const state = { models: [], form: null, result: null, attribution: null, layout: null };

function setStatus(text, kind) {
  $("status").textContent = text;
  document.body.dataset.state = kind;
}

async function getJSON(url, options) {
  const response = await fetch(url, options);
  const body = await response.json().catch(() => ({ detail: response.statusText }));
  if (!response.ok) {
    const detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
    throw new Error(`${response.status}: ${detail}`);
  }
  return body;
}

async function init() {
  state.models = await getJSON("/models");
  for (const m of state.models) {
    $("model").add(new Option(`${m.name} (${m.architecture}, ${m.input}, ${m.classes.length} classes)`, m.name));
  }
  await initMeasure();
  for (const example of await getJSON("/examples")) {
    $("example").add(new Option(example.name, JSON.stringify(example.files)));
  }
  $("upload-form").addEventListener("submit", (event) => { event.preventDefault(); analyse(); });
  $("example").addEventListener("change", () => { if ($("example").value) { $("files").value = ""; analyse(); } });
  $("attribution").addEventListener("change", toggleAttribution);
  window.addEventListener("resize", () => state.result && drawECG());
}

async function buildForm() {
  const form = new FormData();
  if ($("example").value && !$("files").files.length) {
    for (const name of JSON.parse($("example").value)) {
      const blob = await (await fetch(`/static/examples/${name}`)).blob();
      form.append("files", new File([blob], name));
    }
  } else {
    if (!$("files").files.length) throw new Error("choose the record's files (or an example) first");
    for (const file of $("files").files) form.append("files", file);
  }
  if ($("fs").value) form.append("fs", $("fs").value);
  if ($("leads").value) form.append("leads", $("leads").value);
  return form;
}

async function analyse() {
  $("analyse").disabled = true;
  $("attribution").checked = false;
  $("attribution").disabled = true;
  state.attribution = null;
  clearMeasure();
  setStatus("Analysing…", "busy");
  try {
    state.form = await buildForm();
    const measuring = requestMeasure(state.form);  // runs beside the prediction; its errors stay in its own line
    const model = encodeURIComponent($("model").value);
    state.result = await getJSON(`/predict?model=${model}&display=true`, { method: "POST", body: state.form });
    drawECG();
    drawProbabilities();
    await showMeasure(measuring);
    $("attribution").disabled = false;
    const positive = state.result.prediction.positive;
    setStatus(`Done: ${positive.length ? positive.join(", ") : "no class above its threshold"}.`, "done");
  } catch (error) {
    setStatus(error.message, "error");
  } finally {
    $("analyse").disabled = false;
  }
}

function median(values) {
  const sorted = Float64Array.from(values).sort();
  return sorted.length ? sorted[Math.floor(sorted.length / 2)] : 0;
}

// Where every lead is drawn: [{lead, baseline, t0, t1}] in seconds and mV.
function pageLayout(display, prediction) {
  const duration = display.signal[0].length / display.fs;
  const standard = STANDARD.every((lead) => display.leads.includes(lead));
  const places = [];
  let rows;
  if (standard) {
    const column = duration / 4;
    COLUMNS.forEach((leads, c) => leads.forEach((lead, r) =>
      places.push({ lead, baseline: -r * ROW_MV, t0: c * column, t1: (c + 1) * column, strip: false })));
    places.push({ lead: "II", baseline: -3 * ROW_MV, t0: 0, t1: duration, strip: true });
    rows = 4;
  } else {
    display.leads.forEach((lead, r) => places.push({ lead, baseline: -r * ROW_MV, t0: 0, t1: duration, strip: true }));
    rows = display.leads.length;
  }
  const beatLead = prediction.input === "beat" ? modelInfo().leads[0] : null;
  return { places, rows, duration, beatLead };
}

function modelInfo() {
  return state.models.find((m) => m.name === state.result.model);
}

function segment(display, place) {
  const i = display.leads.indexOf(place.lead);
  const a = Math.round(place.t0 * display.fs), b = Math.round(place.t1 * display.fs);
  const values = display.signal[i].slice(a, b);
  const offset = median(values);   // sit the trace on its row, as a printer's baseline filter does
  const x = values.map((_, k) => (a + k) / display.fs);
  const y = values.map((v) => place.baseline + v - offset);
  return { x, y, offset };
}

function drawECG() {
  const { display, prediction } = state.result;
  const layout = pageLayout(display, prediction);
  state.layout = layout;
  const traces = [], annotations = [];
  for (const place of layout.places) {
    const { x, y } = segment(display, place);
    const beats = place.strip && place.lead === layout.beatLead ? prediction.beats : null;
    if (beats) traces.push(...beatTraces(x, y, beats, prediction.classes, place.lead));
    else traces.push({ x, y, mode: "lines", line: { color: "#111", width: 1 }, name: place.lead, meta: "lead", showlegend: false, hoverinfo: "skip" });
    annotations.push({ x: place.t0 + 0.04, y: place.baseline + 1.1, text: `<b>${place.lead}</b>`, showarrow: false, xanchor: "left", font: { size: 12 } });
    if (place.t0 > 0) traces.push({ x: [place.t0, place.t0], y: [place.baseline - 0.3, place.baseline + 0.3], mode: "lines", line: { color: "#111", width: 1.2 }, showlegend: false, hoverinfo: "skip", meta: "separator" });
  }
  for (let r = 0; r < layout.rows; r++) {
    const b = -r * ROW_MV;
    traces.push({ x: [-0.4, -0.32, -0.32, -0.12, -0.12, -0.04], y: [b, b, b + 1, b + 1, b, b], mode: "lines", line: { color: "#111", width: 1.2 }, showlegend: false, hoverinfo: "skip", meta: "calibration" });
  }
  const yRange = [-(layout.rows - 0.5) * ROW_MV - 0.3, 0.5 * ROW_MV + 0.3];
  const width = $("ecg").clientWidth || 1000;
  const xSpan = layout.duration + CAL_S;
  const height = Math.round(((yRange[1] - yRange[0]) * 0.4 * (width - 20)) / xSpan) + 40;
  const grid = (dtick, minor) => ({ dtick, tick0: 0, showgrid: true, gridcolor: "#e88a8a", gridwidth: 1, zeroline: false, showticklabels: false,
    minor: { dtick: minor, showgrid: true, gridcolor: "#f6c3c3", gridwidth: 0.5 } });
  const plotLayout = {
    height, margin: { l: 10, r: 10, t: 10, b: 30 }, plot_bgcolor: "#fff7f7", showlegend: prediction.input === "beat",
    legend: { orientation: "h", y: -0.02, yanchor: "top" },
    xaxis: { ...grid(0.2, 0.04), range: [-CAL_S, layout.duration] },
    yaxis: { ...grid(0.5, 0.1), range: yRange, scaleanchor: "x", scaleratio: 0.4 },
    annotations,
  };
  $("record-title").textContent = `${prediction.record_id} — ${display.leads.length} lead${display.leads.length > 1 ? "s" : ""}, ${display.fs} Hz, first ${layout.duration.toFixed(1)} s of ${display.duration_s.toFixed(1)} s`;
  Plotly.newPlot("ecg", traces, plotLayout, { responsive: false, displaylogo: false });
  if ($("attribution").checked && state.attribution) overlayAttribution();
  shadeWaves();
}

// The rhythm strip of a beat model, cut at the midpoints between beats, each beat in its class colour.
function beatTraces(x, y, beats, classes, lead) {
  const t0 = x[0], t1 = x[x.length - 1];
  const shown = beats.filter((b) => b.time_s >= t0 && b.time_s <= t1);
  const colour = (label) => CLASS_COLOURS[Math.max(classes.indexOf(label), 0) % CLASS_COLOURS.length];
  const traces = [{ x, y, mode: "lines", line: { color: "#999", width: 1 }, name: lead, meta: "lead", showlegend: false, hoverinfo: "skip" }];
  const seen = new Set();
  shown.forEach((beat, k) => {
    const from = k === 0 ? t0 : (shown[k - 1].time_s + beat.time_s) / 2;
    const to = k === shown.length - 1 ? t1 : (beat.time_s + shown[k + 1].time_s) / 2;
    const xs = [], ys = [];
    x.forEach((t, i) => { if (t >= from && t <= to) { xs.push(t); ys.push(y[i]); } });
    traces.push({ x: xs, y: ys, mode: "lines", line: { color: colour(beat.label), width: 1.6 }, name: beat.label, legendgroup: beat.label,
      showlegend: !seen.has(beat.label), meta: "beat", hovertemplate: `${beat.label} (p=${beat.probability.toFixed(2)}) at ${beat.time_s.toFixed(2)} s<extra></extra>` });
    seen.add(beat.label);
  });
  const top = Math.max(...y) + 0.3;
  traces.push({ x: shown.map((b) => b.time_s), y: shown.map(() => top), mode: "text", text: shown.map((b) => `<b>${b.label}</b>`),
    textfont: { color: shown.map((b) => colour(b.label)), size: 12 }, showlegend: false, hoverinfo: "skip", meta: "beat-labels" });
  return traces;
}

function drawProbabilities() {
  const p = state.result.prediction;
  const classes = [...p.classes].reverse();
  const probs = classes.map((c) => p.probabilities[c]);
  const thresholds = classes.map((c) => p.thresholds[c]);
  const positive = classes.map((c) => p.positive.includes(c));
  const traces = [
    { type: "bar", orientation: "h", y: classes, x: probs, name: "probability", meta: "probability",
      marker: { color: positive.map((v) => (v ? "#1a7f37" : "#9aa4ad")) }, text: probs.map((v) => v.toFixed(3)), textposition: "outside",
      hovertemplate: "%{y}: %{x:.3f}<extra></extra>" },
  ];
  // Threshold marks only where a threshold decides; argmax and beat-count decisions have none to show.
  if (p.decision_rule === "threshold") {
    traces.push({ type: "scatter", mode: "markers", y: classes, x: thresholds, name: "threshold", meta: "threshold",
      marker: { symbol: "line-ns-open", size: 22, color: "#b00020", line: { width: 3, color: "#b00020" } }, hovertemplate: "threshold %{x:.2f}<extra></extra>" });
  }
  $("probs-caption").textContent = {
    threshold: "Bars: probability; red marks: the decision threshold of each class.",
    argmax: "Bars: probability; the most probable class is the decision.",
    beats: "Bars: mean probability over the beats; a class is positive when at least one beat is called that class.",
  }[p.decision_rule];
  Plotly.newPlot("probs", traces, {
    height: 60 + 28 * classes.length, margin: { l: 70, r: 30, t: 10, b: 30 }, showlegend: false, bargap: 0.35,
    xaxis: { range: [0, 1.15], tickvals: [0, 0.25, 0.5, 0.75, 1] },
  }, { displayModeBar: false });
  const body = $("prob-table").querySelector("tbody");
  body.innerHTML = "";
  for (const c of p.classes) {
    const row = body.insertRow();
    row.insertCell().textContent = c;
    row.insertCell().textContent = p.probabilities[c].toFixed(3);
    row.insertCell().textContent = p.decision_rule === "threshold" ? p.thresholds[c].toFixed(2) : p.decision_rule;
    const cell = row.insertCell();
    if (p.positive.includes(c)) { cell.textContent = "positive"; cell.className = "positive"; }
  }
  $("beat-summary").innerHTML = p.beat_counts
    ? "Beats: " + Object.entries(p.beat_counts).map(([c, n]) => `<span>${c} ${n}</span>`).join("")
    : "";
  $("notes").innerHTML = "";
  for (const note of p.notes) $("notes").appendChild(Object.assign(document.createElement("li"), { textContent: note }));
}

async function toggleAttribution() {
  if (!$("attribution").checked) {
    const ecg = $("ecg");
    const indices = ecg.data.map((t, i) => (t.meta === "attribution" ? i : -1)).filter((i) => i >= 0);
    if (indices.length) Plotly.deleteTraces(ecg, indices);
    return;
  }
  if (!state.attribution) {
    setStatus("Computing the attribution (Integrated Gradients)…", "busy");
    try {
      const model = encodeURIComponent(state.result.model);
      state.attribution = (await getJSON(`/explain?model=${model}`, { method: "POST", body: state.form })).attribution;
    } catch (error) {
      $("attribution").checked = false;
      setStatus(error.message, "error");
      return;
    }
  }
  overlayAttribution();
  setStatus(`Attribution for ${state.attribution.target}: red pushes towards the class, blue away from it.`, "done");
}

// Attribution smoothed over 40 ms and scaled by its 99th percentile, so regions rather than single samples show.
function smoothedAttribution(a) {
  const half = Math.max(1, Math.round(0.02 * a.fs));
  const rows = a.values.map((row) => row.map((_, k) => {
    let sum = 0, n = 0;
    for (let j = Math.max(0, k - half); j <= Math.min(row.length - 1, k + half); j++) { sum += row[j]; n++; }
    return sum / n;
  }));
  const magnitudes = Float64Array.from(rows.flat().map(Math.abs)).sort();
  const scale = magnitudes[Math.floor(0.99 * (magnitudes.length - 1))] || 1;
  return rows.map((row) => row.map((v) => Math.max(-1, Math.min(1, v / scale))));
}

// Points of the drawn traces where the attribution is large, coloured by its sign and size.
function overlayAttribution() {
  const a = state.attribution, { display } = state.result;
  const values = smoothedAttribution(a);
  const traces = [];
  for (const place of state.layout.places) {
    const row = a.leads.indexOf(place.lead);
    if (row < 0) continue;
    const { offset } = segment(display, place);
    const signal = display.signal[display.leads.indexOf(place.lead)];
    const xs = [], ys = [], cs = [];
    values[row].forEach((v, k) => {
      const t = k / a.fs;
      if (Math.abs(v) < 0.2 || t < place.t0 || t >= place.t1) return;
      const i = Math.min(Math.round(t * display.fs), signal.length - 1);
      xs.push(t); ys.push(place.baseline + signal[i] - offset); cs.push(v);
    });
    traces.push({ x: xs, y: ys, mode: "markers", meta: "attribution", showlegend: false, hoverinfo: "skip",
      marker: { color: cs, cmin: -1, cmax: 1, colorscale: "RdBu", reversescale: true, size: cs.map((v) => 3 + 7 * Math.abs(v)), opacity: 0.75 } });
  }
  Plotly.addTraces("ecg", traces);
}

init().catch((error) => setStatus(`Could not load the models: ${error.message}`, "error"));
