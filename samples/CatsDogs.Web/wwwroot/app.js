// The CatsDogs.ML demo page: photos from a file picker, drag and drop or the camera go to /api/explain, one at a
// time, and each answer becomes a card with P(dog), the label, the heatmap overlay and each backbone's share.
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

function show(item, photoUrl, answer) {
  const img = item.querySelector(".photo");
  img.src = photoUrl;
  img.alt = `Photo ${answer.name}`;
  if (answer.error) {
    // What the browser cannot show either (not an image, say) leaves no broken-image icon behind.
    img.addEventListener("error", () => { img.hidden = true; }, { once: true });
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
      img.src = overlay ? photoUrl : answer.overlay;
      toggle.setAttribute("aria-pressed", String(!overlay));
      toggle.textContent = overlay ? "Show the heatmap" : "Show the photo";
    });
  }

  const list = item.querySelector(".contributions");
  for (const b of answer.backbones || []) {
    const li = document.createElement("li");
    li.textContent = `${b.name}: ${b.contribution >= 0 ? "+" : ""}${b.contribution.toFixed(2)} toward dog`;
    list.appendChild(li);
  }
}

async function score(blob, name) {
  const item = card(name);
  const photoUrl = URL.createObjectURL(blob);
  pending++;
  setStatus();
  try {
    const form = new FormData();
    form.append("file", blob, name);
    const response = await fetch("api/explain", { method: "POST", body: form });
    const body = await response.json();
    const answer = Array.isArray(body) ? body[0] : { name, error: body.detail || `The server answered ${response.status}.` };
    show(item, photoUrl, answer);
    answer.error ? failed++ : scored++;
  } catch (e) {
    show(item, photoUrl, { name, error: `The request failed: ${e.message}` });
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
drop.addEventListener("keydown", event => {
  if (event.key === "Enter" || event.key === " ") {
    event.preventDefault();
    document.getElementById("files").click();
  }
});

const video = document.getElementById("camera-video");
const panel = document.getElementById("camera-panel");
const cameraError = document.getElementById("camera-error");
let stream = null;

document.getElementById("camera-start").addEventListener("click", async () => {
  cameraError.hidden = true;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    video.srcObject = stream;
    panel.hidden = false;
    document.getElementById("camera-snap").focus();
  } catch (e) {
    cameraError.textContent = `The camera cannot be used: ${e.message}`;
    cameraError.hidden = false;
  }
});

function stopCamera() {
  if (stream) {
    stream.getTracks().forEach(t => t.stop());
    stream = null;
  }
  panel.hidden = true;
}

document.getElementById("camera-stop").addEventListener("click", stopCamera);
document.getElementById("camera-snap").addEventListener("click", () => {
  if (!video.videoWidth) {
    return;
  }
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0);
  canvas.toBlob(blob => score(blob, `camera-${new Date().toISOString().replace(/[:.]/g, "-")}.jpg`), "image/jpeg", 0.92);
});

async function loadModelInfo() {
  const info = document.getElementById("model-info");
  try {
    const model = await (await fetch("api/model")).json();
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
