// The CatsDogs.ML demo page: photos from a file picker or drag and drop go to /api/explain, one at a time, and each
// answer becomes a card with P(dog), the label, the heatmap overlay and each backbone's share. The live camera is
// scored in the page itself (onnxruntime-web in a worker); its snapshots go to /api/explain like uploads.
"use strict";

const results = document.getElementById("results");
const status = document.getElementById("status");
const template = document.getElementById("result-template");
let pending = 0;
let scored = 0;
let failed = 0;

function setStatus() {
  const done = `${scored} photo(s) scored` + (failed > 0 ? `, ${failed} not scored` : "");
  status.textContent = pending > 0 ? `Scoring… ${pending} photo(s) to go; ${done}.` : scored + failed > 0 ? `${done}.` : "No photo yet.";
}

function card(name) {
  const item = template.content.firstElementChild.cloneNode(true);
  item.querySelector(".name").textContent = name;
  item.querySelector(".label").textContent = "…";
  results.prepend(item);
  return item;
}

// Shows a blob in an image; its object URL is revoked as soon as the image has read it.
function showBlob(img, blob) {
  const url = URL.createObjectURL(blob);
  const revoke = () => URL.revokeObjectURL(url);
  img.addEventListener("load", revoke, { once: true });
  img.addEventListener("error", revoke, { once: true });
  img.src = url;
}

function show(item, blob, answer) {
  const img = item.querySelector(".photo");
  img.alt = `Photo ${answer.name}`;
  if (answer.error) {
    // What the browser cannot show either (not an image, say) leaves no broken-image icon behind.
    img.addEventListener("error", () => { img.hidden = true; }, { once: true });
    showBlob(img, blob);
    item.querySelector(".bar").hidden = true;
    item.querySelector(".label").textContent = "Not scored";
    const error = item.querySelector(".error");
    error.textContent = answer.error;
    error.hidden = false;
    return;
  }

  const p = answer.dogProbability;
  const label = item.querySelector(".label");
  label.textContent = answer.label === "dog" ? "Dog" : "Cat";
  label.classList.add(answer.label);
  const bar = item.querySelector(".bar");
  bar.setAttribute("aria-valuenow", p.toFixed(3));
  bar.setAttribute("aria-label", `P(dog) ${p.toFixed(3)}`);
  bar.querySelector(".fill").style.width = `${(p * 100).toFixed(1)}%`;
  item.querySelector(".probability").textContent = `P(dog) = ${p.toFixed(3)}`;
  item.dataset.dogProbability = p.toFixed(6);
  if (answer.overlay) {
    img.src = answer.overlay;
    img.alt = `Heatmap over ${answer.name}: where the model saw a ${answer.label}`;
    const toggle = item.querySelector(".toggle");
    toggle.hidden = false;
    toggle.addEventListener("click", () => {
      const overlay = toggle.getAttribute("aria-pressed") === "true";
      overlay ? showBlob(img, blob) : (img.src = answer.overlay);
      toggle.setAttribute("aria-pressed", String(!overlay));
      toggle.textContent = overlay ? "Show the heatmap" : "Show the photo";
    });
  } else {
    showBlob(img, blob);
  }

  const list = item.querySelector(".contributions");
  for (const b of answer.backbones || []) {
    const li = document.createElement("li");
    li.textContent = `${b.name}: ${b.contribution >= 0 ? "+" : ""}${b.contribution.toFixed(2)} toward dog`;
    list.appendChild(li);
  }
}

// Whether the served model draws heatmaps (its head has a linear form); /api/model says. Without them photos go to
// /api/predict and the live camera, which runs the exported model with its cam, is off.
let heatmaps = true;

// Scores one photo through /api/explain (or /api/predict when the model has no heatmaps); every answer is a JSON
// object: { results: [...] } or problem details.
async function score(blob, name, livePDog) {
  const item = card(name);
  if (livePDog !== undefined) {
    item.dataset.liveDogProbability = livePDog.toFixed(6);
  }
  pending++;
  setStatus();
  try {
    const form = new FormData();
    form.append("file", blob, name);
    const response = await fetch(heatmaps ? "api/explain" : "api/predict", { method: "POST", body: form });
    const body = await response.json();
    const answer = Array.isArray(body.results) ? body.results[0] : { name, error: body.detail || `The server answered ${response.status}.` };
    show(item, blob, answer);
    answer.error ? failed++ : scored++;
  } catch (e) {
    show(item, blob, { name, error: `The request failed: ${e.message}` });
    failed++;
  } finally {
    pending--;
    setStatus();
  }
}

async function scoreAll(files) {
  for (const file of files) {
    await score(file, file.name);
  }
}

document.getElementById("files").addEventListener("change", event => {
  const files = Array.from(event.target.files);
  event.target.value = "";
  scoreAll(files);
});

const drop = document.getElementById("drop");
drop.addEventListener("dragover", event => { event.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", event => {
  event.preventDefault();
  drop.classList.remove("over");
  scoreAll(Array.from(event.dataTransfer.files));
});

// Live mode: the camera's frames are scored in the page by the exported model (/model.onnx) in a worker
// (live-worker.js), one at a time: while a frame is being scored, newer frames are dropped, never queued.
const video = document.getElementById("camera-video");
const panel = document.getElementById("camera-panel");
const cameraError = document.getElementById("camera-error");
const liveLabel = document.getElementById("live-label");
const liveFps = document.getElementById("live-fps");
const liveBar = document.getElementById("live-bar");
const liveStatus = document.getElementById("live-status");
const overlay = document.getElementById("live-overlay");
let stream = null;
let worker = null;
let contract = null;
let inFlight = false;
let frameId = 0;
let scoredTimes = [];
let lastFrame = null; // { canvas, p }: the last scored frame, exactly the pixels the model saw
let liveStarted = 0;
let session = 0; // one per start: a frame scored for an earlier start is ignored
let lastGrabbed = -1; // the video time of the last frame sent to the worker

function startWorker() {
  if (worker) {
    return;
  }
  worker = new Worker("live-worker.js", { type: "module" });
  worker.onmessage = ({ data }) => {
    if (data.type === "ready") {
      contract = data.contract;
      liveLabel.dataset.modelBytes = String(data.bytes);
      liveLabel.dataset.contract = contract;
      liveLabel.dataset.threads = String(data.threads);
      liveStatus.textContent = `Model loaded in ${(data.ms / 1000).toFixed(1)} s (${(data.bytes / 1048576).toFixed(1)} MiB, ${contract} input, ${data.threads} thread(s)).`;
      nextFrame();
    } else if (data.type === "scored") {
      scoredFrame(data);
    } else if (data.type === "error") {
      inFlight = false;
      cameraError.textContent = `The live model failed: ${data.message}`;
      cameraError.hidden = false;
    }
  };
  worker.onerror = e => {
    cameraError.textContent = `The live model could not start: ${e.message || "worker error"}`;
    cameraError.hidden = false;
  };
  worker.postMessage({ type: "load", url: new URL("model.onnx", document.baseURI).href });
}

// The frame the contract takes: rgb224 scales the short side to 224 and crops the centre; the photo contract takes
// the frame itself (its longer side at most 640 pixels; the graph crops and resizes each view).
function grabFrame() {
  const vw = video.videoWidth, vh = video.videoHeight;
  const canvas = document.createElement("canvas");
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.imageSmoothingQuality = "high";
  if (contract === "Resized") {
    const side = Math.min(vw, vh);
    canvas.width = canvas.height = 224;
    ctx.drawImage(video, (vw - side) / 2, (vh - side) / 2, side, side, 0, 0, 224, 224);
  } else {
    const scale = Math.min(1, 640 / Math.max(vw, vh));
    canvas.width = Math.round(vw * scale);
    canvas.height = Math.round(vh * scale);
    ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
  }
  const rgba = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  const rgb = new Uint8Array((rgba.length / 4) * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    rgb[j] = rgba[i];
    rgb[j + 1] = rgba[i + 1];
    rgb[j + 2] = rgba[i + 2];
  }
  return { canvas, rgb };
}

const pendingFrames = new Map();

function nextFrame() {
  if (!stream || !contract || inFlight) {
    return;
  }
  if (!video.videoWidth || video.readyState < 2) {
    requestAnimationFrame(nextFrame);
    return;
  }
  inFlight = true;
  lastGrabbed = video.currentTime;
  const { canvas, rgb } = grabFrame();
  const id = ++frameId;
  pendingFrames.set(id, { canvas, session });
  worker.postMessage({ type: "frame", id, width: canvas.width, height: canvas.height, rgb: rgb.buffer }, [rgb.buffer]);
}

function scoredFrame(data) {
  inFlight = false;
  const { canvas, session: frameSession } = pendingFrames.get(data.id);
  pendingFrames.delete(data.id);
  if (!stream || frameSession !== session) {
    scheduleNext();
    return;
  }
  const p = data.p;
  lastFrame = { canvas, p };
  const dog = p >= 0.5;
  const now = performance.now();
  scoredTimes.push(now);
  scoredTimes = scoredTimes.filter(t => now - t <= 3000);
  if (!liveLabel.dataset.firstFrameMs) {
    liveLabel.dataset.firstFrameAt = now.toFixed(0);
    liveLabel.dataset.firstFrameMs = (now - liveStarted).toFixed(0);
  }
  const label = dog ? "Dog" : "Cat";
  if (liveLabel.textContent !== label) {
    liveLabel.textContent = label;
    // When (in the stream's time) each label was first shown: what the tests and the bench read.
    const key = dog ? "dogAt" : "catAt";
    if (liveLabel.dataset[key] === undefined) {
      liveLabel.dataset[key] = video.currentTime.toFixed(3);
    }
  }
  liveLabel.dataset.dogProbability = p.toFixed(6);
  liveLabel.dataset.frames = String(Number(liveLabel.dataset.frames || 0) + 1);
  const span = scoredTimes.length > 1 ? (scoredTimes[scoredTimes.length - 1] - scoredTimes[0]) / 1000 : 0;
  liveFps.textContent = (span > 0 ? (scoredTimes.length - 1) / span : 0).toFixed(1);
  liveBar.setAttribute("aria-valuenow", p.toFixed(3));
  liveBar.setAttribute("aria-valuetext", `P(dog) ${p.toFixed(3)}`);
  liveBar.querySelector(".fill").style.width = `${(p * 100).toFixed(1)}%`;
  liveStatus.textContent = `P(dog) = ${p.toFixed(3)}, ${data.ms.toFixed(0)} ms a frame`;
  if (data.overlay) {
    overlay.width = data.width;
    overlay.height = data.height;
    overlay.getContext("2d").putImageData(new ImageData(data.overlay, data.width, data.height), 0, 0);
  }
  scheduleNext();
}

// The next frame as soon as the camera has one the worker has not seen: at once when the video moved on while this
// one was scored (the usual case: scoring takes longer than a camera frame), else at the camera's next frame,
// rather than at the next animation frame (up to 16 ms idle a frame).
function scheduleNext() {
  if (video.currentTime !== lastGrabbed) {
    nextFrame();
  } else if (video.requestVideoFrameCallback) {
    video.requestVideoFrameCallback(() => nextFrame());
  } else {
    requestAnimationFrame(nextFrame);
  }
}

document.getElementById("camera-start").addEventListener("click", async () => {
  cameraError.hidden = true;
  try {
    // A new start shows nothing of the last one.
    session++;
    liveStarted = performance.now();
    lastFrame = null;
    scoredTimes = [];
    liveLabel.textContent = "…";
    for (const key of ["firstFrameMs", "firstFrameAt", "frames", "dogProbability", "catAt", "dogAt"]) {
      delete liveLabel.dataset[key];
    }
    startWorker();
    const started = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    video.srcObject = started;
    panel.hidden = false;
    document.getElementById("camera-snap").focus();
    await video.play(); // frames are taken from this stream only once it plays, never a frame left from the last one
    stream = started;
    nextFrame();
  } catch (e) {
    cameraError.textContent = `The camera cannot be used: ${e.message}`;
    cameraError.hidden = false;
  }
});

function stopCamera() {
  if (video.srcObject) {
    video.srcObject.getTracks().forEach(t => t.stop());
    video.srcObject = null;
  }
  stream = null;
  scoredTimes = [];
  liveFps.textContent = "0.0";
  panel.hidden = true;
  document.getElementById("camera-start").focus();
}

document.getElementById("camera-stop").addEventListener("click", stopCamera);

// A snapshot is scored like an upload: the last frame the live model scored (exactly its pixels, as PNG, with the
// page's P(dog) kept beside the server's), or the current frame before any was scored.
document.getElementById("camera-snap").addEventListener("click", () => {
  if (!video.videoWidth) {
    return;
  }
  const name = `camera-${new Date().toISOString().replace(/[:.]/g, "-")}.png`;
  if (lastFrame) {
    const { canvas, p } = lastFrame;
    canvas.toBlob(blob => score(blob, name, p), "image/png");
    return;
  }
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0);
  canvas.toBlob(blob => score(blob, name), "image/png");
});

async function loadModelInfo() {
  const info = document.getElementById("model-info");
  try {
    const model = await (await fetch("api/model")).json();
    if (model.heatmaps === false) {
      heatmaps = false;
      const start = document.getElementById("camera-start");
      start.disabled = true;
      cameraError.textContent = "This model's head has no linear form, so it has no heatmaps and no live camera; photos are still scored.";
      cameraError.hidden = false;
    }
    const rows = [
      ["Backbones", model.backbones.map(b => `${b.name} (${b.input}, ${b.features} features)`).join(", ")],
      ["Views", model.views.join(", ")],
      ["Trained", new Date(model.trainedUtc).toLocaleString()],
    ];
    if (model.training) {
      const t = model.training;
      rows.push(["Training", `${t.photos} photos (${t.cats} cats, ${t.dogs} dogs), ${t.leftOut} left out as likely mislabelled; ${t.folds}-fold cross-validated log loss ${t.cvLogLoss.toFixed(4)}, accuracy ${(t.cvAccuracy * 100).toFixed(2)} %`]);
    }
    rows.push(["Limits", `${(model.limits.maxPhotoBytes / 1e6).toFixed(0)} MB a photo, ${model.limits.maxPhotosPerRequest} photos a request`]);
    info.replaceChildren(...rows.flatMap(([term, value]) => {
      const dt = document.createElement("dt");
      dt.textContent = term;
      const dd = document.createElement("dd");
      dd.textContent = value;
      return [dt, dd];
    }));
  } catch (e) {
    info.textContent = `Model information unavailable: ${e.message}`;
  }
}

loadModelInfo();
