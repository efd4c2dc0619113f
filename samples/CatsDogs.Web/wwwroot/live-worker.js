// The live mode's scorer, a module worker so that the page stays responsive: onnxruntime-web (served by the app from
// /ort/, no CDN) runs the model exported at /model.onnx on one frame at a time and answers with P(dog) and the frame
// with its heatmap drawn the original app's way (normalise, drop ≤ 0.2, JET, 0.8 × photo + 0.4 × heat).
import * as ort from "./ort/ort.wasm.min.mjs";

ort.env.wasm.wasmPaths = new URL("./ort/", import.meta.url).href;
// Threads need cross-origin isolation (the app sends COOP/COEP); without it onnxruntime-web runs on one thread.
ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1)) : 1;

let session = null;

self.onmessage = async ({ data }) => {
  try {
    if (data.type === "load") {
      const started = performance.now();
      const response = await fetch(data.url);
      if (!response.ok) {
        throw new Error(`${data.url} answered ${response.status}`);
      }
      const bytes = new Uint8Array(await response.arrayBuffer());
      session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
      self.postMessage({
        type: "ready",
        contract: response.headers.get("X-Input-Contract") || "Photo",
        bytes: bytes.length,
        threads: ort.env.wasm.numThreads,
        ms: performance.now() - started,
      });
    } else if (data.type === "frame") {
      const { width, height } = data;
      const rgb = new Uint8Array(data.rgb);
      const started = performance.now();
      const outputs = await session.run({ image: new ort.Tensor("uint8", rgb, [1, height, width, 3]) });
      const p = outputs.dog_probability.data[0];
      const overlay = outputs.cam ? blend(rgb, width, height, outputs.cam, p) : null;
      self.postMessage({ type: "scored", id: data.id, p, overlay, width, height, ms: performance.now() - started }, overlay ? [overlay.buffer] : []);
    }
  } catch (e) {
    self.postMessage({ type: "error", id: data.id, message: e.message || String(e) });
  }
};

// The map for the predicted class (positive = dog, so negated for a cat), bilinearly upsampled from its grid to the
// frame (pixel centres), normalised by its maximum; values ≤ 0.2 dropped, the rest coloured with JET and blended.
function blend(rgb, width, height, cam, p) {
  const grid = cam.dims[cam.dims.length - 1];
  const rows = cam.dims[cam.dims.length - 2];
  const sign = p >= 0.5 ? 1 : -1;
  const map = Float32Array.from(cam.data, v => Math.max(0, sign * v));
  let max = 0;
  for (const v of map) max = Math.max(max, v);
  const out = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    const gy = Math.min(rows - 1, Math.max(0, ((y + 0.5) * rows) / height - 0.5));
    const y0 = Math.floor(gy), y1 = Math.min(rows - 1, y0 + 1), fy = gy - y0;
    for (let x = 0; x < width; x++) {
      const gx = Math.min(grid - 1, Math.max(0, ((x + 0.5) * grid) / width - 0.5));
      const x0 = Math.floor(gx), x1 = Math.min(grid - 1, x0 + 1), fx = gx - x0;
      const v = (map[y0 * grid + x0] * (1 - fx) + map[y0 * grid + x1] * fx) * (1 - fy) + (map[y1 * grid + x0] * (1 - fx) + map[y1 * grid + x1] * fx) * fy;
      const heat = max > 0 ? v / max : 0;
      const on = heat > 0.2;
      const i = y * width + x;
      out[i * 4] = 0.8 * rgb[i * 3] + (on ? 102 * jet(heat, 3) : 0);
      out[i * 4 + 1] = 0.8 * rgb[i * 3 + 1] + (on ? 102 * jet(heat, 2) : 0);
      out[i * 4 + 2] = 0.8 * rgb[i * 3 + 2] + (on ? 102 * jet(heat, 1) : 0);
      out[i * 4 + 3] = 255;
    }
  }
  return out;
}

// JET: red, green and blue at offsets 3, 2 and 1.
function jet(v, offset) {
  return Math.min(1, Math.max(0, 1.5 - Math.abs(4 * v - offset)));
}
