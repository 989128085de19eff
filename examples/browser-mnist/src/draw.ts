/**
 * A canvas to draw a digit on with the mouse, a finger or a pen, calling `onDigit` with the
 * digit as MNIST shows its digits: 28×28 grey values in [0, 1], the ink scaled to fit 20×20
 * and centred by its centre of mass.
 */
export function drawingPad(canvas: HTMLCanvasElement, onDigit: (grey: Float32Array) => void): { clear(): void } {
  const c = canvas.getContext('2d', { willReadFrequently: true })!;
  const clear = () => {
    c.fillStyle = '#000';
    c.fillRect(0, 0, canvas.width, canvas.height);
  };
  clear();
  let last: [number, number] | undefined;
  const at = (e: PointerEvent): [number, number] => {
    const r = canvas.getBoundingClientRect();
    return [((e.clientX - r.left) * canvas.width) / r.width, ((e.clientY - r.top) * canvas.height) / r.height];
  };
  canvas.addEventListener('pointerdown', (e) => {
    canvas.setPointerCapture(e.pointerId);
    last = at(e);
  });
  canvas.addEventListener('pointermove', (e) => {
    if (!last) return;
    const p = at(e);
    c.strokeStyle = '#fff';
    c.lineWidth = canvas.width / 14;
    c.lineCap = 'round';
    c.beginPath();
    c.moveTo(...last);
    c.lineTo(...p);
    c.stroke();
    last = p;
  });
  const end = () => {
    if (!last) return;
    last = undefined;
    const grey = toMnist(c, canvas.width, canvas.height);
    if (grey) onDigit(grey);
  };
  canvas.addEventListener('pointerup', end);
  canvas.addEventListener('pointercancel', end);
  return { clear };
}

/** The drawing as a 28×28 MNIST-style image, or undefined when nothing is drawn. */
function toMnist(c: CanvasRenderingContext2D, w: number, h: number): Float32Array | undefined {
  const ink = c.getImageData(0, 0, w, h).data;
  let x0 = w, y0 = h, x1 = -1, y1 = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (ink[(y * w + x) * 4]! > 0) {
        x0 = Math.min(x0, x);
        x1 = Math.max(x1, x);
        y0 = Math.min(y0, y);
        y1 = Math.max(y1, y);
      }
    }
  }
  if (x1 < 0) return undefined;
  // the bounding box scaled so its longer side is 20 pixels, drawn with smoothing onto 28×28
  const side = Math.max(x1 - x0 + 1, y1 - y0 + 1);
  const small = document.createElement('canvas');
  small.width = small.height = 28;
  const s = small.getContext('2d', { willReadFrequently: true })!;
  s.imageSmoothingEnabled = true;
  s.imageSmoothingQuality = 'high';
  const bw = ((x1 - x0 + 1) / side) * 20, bh = ((y1 - y0 + 1) / side) * 20;
  s.drawImage(c.canvas, x0, y0, x1 - x0 + 1, y1 - y0 + 1, 4 + (20 - bw) / 2, 4 + (20 - bh) / 2, bw, bh);
  const px = s.getImageData(0, 0, 28, 28).data;
  const grey = new Float32Array(784);
  let mass = 0, mx = 0, my = 0;
  for (let i = 0; i < 784; i++) {
    const v = px[i * 4]! / 255;
    grey[i] = v;
    mass += v;
    mx += v * (i % 28);
    my += v * Math.floor(i / 28);
  }
  // shift the centre of mass to the middle, as MNIST's images were
  const dx = Math.round(13.5 - mx / mass), dy = Math.round(13.5 - my / mass);
  const out = new Float32Array(784);
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      const sx = x - dx, sy = y - dy;
      if (sx >= 0 && sx < 28 && sy >= 0 && sy < 28) out[y * 28 + x] = grey[sy * 28 + sx]!;
    }
  }
  return out;
}
