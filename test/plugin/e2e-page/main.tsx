// The end-to-end page: the real panel (mountPanel, CompanionClient, PanelSession, ui/) over a canvas
// document, in a plain browser. The test drives it through the DOM and reads `window.e2e`.
import { mountPanel } from '../../../plugin/App';
import { CompanionClient } from '../../../plugin/client/companion-client';
import { CanvasHost, type SelectionShape } from './canvas-host';
import { defineSpectrumPolyfills } from './spectrum-polyfill';

defineSpectrumPolyfills();

const params = new URLSearchParams(location.search);
const url = params.get('url') ?? 'ws://127.0.0.1:47821';

const view = document.getElementById('document') as HTMLCanvasElement;
const host = new CanvasHost(1, 'harbour.psd', 480, 320, view);
const sky = host.addLayer('Background', (ctx) => {
  const g = ctx.createLinearGradient(0, 0, 0, 320);
  g.addColorStop(0, '#9cc7e8');
  g.addColorStop(1, '#f3e3c3');
  ctx.fillStyle = g;
  ctx.fillRect(0, 0, 480, 320);
});
const style = host.addLayer('Ink strokes', (ctx) => {
  ctx.lineCap = 'round';
  for (let i = 0; i < 14; i++) {
    ctx.strokeStyle = i % 2 ? '#c2410c' : '#1e3a8a';
    ctx.lineWidth = 6 + (i % 4) * 3;
    ctx.beginPath();
    ctx.moveTo(40 + i * 11, 60 + ((i * 37) % 40));
    ctx.bezierCurveTo(120, 20 + i * 9, 160, 200 - i * 5, 220 + i * 4, 150 + ((i * 23) % 60));
    ctx.stroke();
  }
});
host.activeLayerId = style.id;
void sky;

const panel = mountPanel(document.getElementById('root')!, host, new CompanionClient({ url, backoff: { initialMs: 200, maxMs: 1000 } }));

declare global {
  interface Window {
    e2e: {
      layers: () => ReturnType<CanvasHost['snapshot']>;
      historySteps: () => string[];
      checksum: (layerId: number) => string;
      reads: () => CanvasHost['reads'];
      state: () => unknown;
      setSelection: (bounds: { left: number; top: number; right: number; bottom: number } | null, shape?: SelectionShape) => void;
      sample: CanvasHost['sample'];
    };
  }
}

window.e2e = {
  layers: () => host.snapshot(),
  historySteps: () => [...host.historySteps],
  checksum: (layerId) => host.checksum(layerId),
  reads: () => [...host.reads],
  state: () => panel.session.state,
  setSelection: (bounds, shape) => host.select(bounds, shape),
  sample: (layerId, x, y) => host.sample(layerId, x, y),
};
