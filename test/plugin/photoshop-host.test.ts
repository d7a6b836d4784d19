import { PhotoshopHost } from '../../plugin/host/photoshop-host';
import { HostError, type RgbaImage } from '../../plugin/host/host';
import { FakePhotoshop, FakeSecureStorage, type FakeDocument, type PixelContent } from './fakes/fake-photoshop';
import { coverCrop } from '../../plugin/host/geometry';

function solid(left: number, top: number, width: number, height: number, rgba: [number, number, number, number]): PixelContent {
  const data = new Uint8Array(width * height * 4);
  for (let i = 0; i < data.length; i += 4) data.set(rgba, i);
  return { left, top, width, height, rgba: data };
}

function image(width: number, height: number, value: number): RgbaImage {
  return { width, height, data: new Uint8Array(width * height * 4).fill(value) };
}

function setup(mode?: string, bits?: string) {
  const ps = new FakePhotoshop();
  const doc = ps.addDocument('poster.psd', 1000, 800, mode, bits);
  const host = new PhotoshopHost(ps, new FakeSecureStorage());
  return { ps, doc, host };
}

function addStyleLayer(doc: FakeDocument) {
  const bg = doc.addLayer('Background', 'pixel', solid(0, 0, 1000, 800, [255, 255, 255, 255]));
  bg.opaque = true;
  const style = doc.addLayer('Brush strokes', 'pixel', solid(100, 50, 300, 200, [10, 120, 200, 128]));
  doc.activeLayerIds = [style.id];
  return { bg, style };
}

describe('documentState', () => {
  test('no document', async () => {
    const ps = new FakePhotoshop();
    expect(await new PhotoshopHost(ps, new FakeSecureStorage()).documentState()).toEqual({ kind: 'none' });
  });

  test.each([
    ['CMYKColorMode', 'bitDepth8', /CMYK mode.*Image › Mode › RGB Color/],
    ['labColorMode', 'bitDepth8', /Lab mode/],
    ['indexedColorMode', 'bitDepth8', /Indexed Color mode/],
    ['bitmapMode', 'bitDepth1', /Bitmap mode/],
    ['grayscaleMode', 'bitDepth8', /Grayscale mode/],
    ['RGBColorMode', 'bitDepth32', /32 bits per channel.*16 Bits\/Channel or 8 Bits\/Channel/],
  ])('refuses %s %s with the fix in the message', async (mode, bits, message) => {
    const { host } = setup(mode, bits);
    const state = await host.documentState();
    expect(state.kind).toBe('unsupported');
    expect(state.kind === 'unsupported' && state.reason).toMatch(message);
  });

  test('lists layers with depth and readability, the active layer and the selection clipped to the canvas', async () => {
    const { ps, doc, host } = setup('RGBColorMode', 'bitDepth16');
    const { bg, style } = addStyleLayer(doc);
    ps.modalDepth++; // test setup: building a group changes the document
    const group = await doc.createLayerGroup({ name: 'Refs' });
    style.move(group!, 'placeInside' as never);
    ps.modalDepth--;
    doc.activeLayerIds = [style.id]; // the user selects the style layer again
    doc.selectionBounds = { left: -20, top: 10.5, right: 300, bottom: 900 };
    const state = await host.documentState();
    expect(state).toEqual({
      kind: 'ready',
      doc: {
        id: doc.id, title: 'poster.psd', width: 1000, height: 800, activeLayerId: style.id,
        selection: { left: 0, top: 10, right: 300, bottom: 800 },
        layers: [
          { id: group!.id, name: 'Refs', depth: 0, readable: false },
          { id: style.id, name: 'Brush strokes', depth: 1, readable: true },
          { id: bg.id, name: 'Background', depth: 0, readable: true },
        ],
      },
    });
  });
});

describe('readLayer', () => {
  test('reads the layer as RGBA, trimmed to its content, in a short modal scope, and disposes the data', async () => {
    const { ps, doc, host } = setup();
    const { style } = addStyleLayer(doc);
    const got = await host.readLayer({ documentId: doc.id, layerId: style.id, selectionOnly: false, maxSide: 1024 });
    expect(got.bounds).toEqual({ left: 100, top: 50, right: 400, bottom: 250 });
    expect([got.image.width, got.image.height]).toEqual([300, 200]);
    expect(Array.from(got.image.data.subarray(0, 4))).toEqual([10, 120, 200, 128]);
    expect(ps.pixelReads).toEqual([{ layerID: style.id, sourceBounds: got.bounds, inModal: true }]);
    expect(ps.modalScopes).toEqual(['StyleStudio: read layer']);
    expect(ps.modalDepth).toBe(0); // nothing stays modal while the companion works
    expect(ps.imageDataDisposed).toBe(ps.imageDataCreated);
  });

  test('3-component (opaque) reads are expanded to RGBA with full alpha', async () => {
    const { doc, host } = setup();
    const { bg } = addStyleLayer(doc);
    const got = await host.readLayer({ documentId: doc.id, layerId: bg.id, selectionOnly: false, maxSide: 2000 });
    expect(got.image.data.length).toBe(1000 * 800 * 4);
    expect(Array.from(got.image.data.subarray(0, 8))).toEqual([255, 255, 255, 255, 255, 255, 255, 255]);
  });

  test('selection only: crops to the selection; a large read asks Photoshop for a smaller target size', async () => {
    const { ps, doc, host } = setup();
    const { bg, style } = addStyleLayer(doc);
    doc.selectionBounds = { left: 200, top: 100, right: 600, bottom: 700 };
    const crop = await host.readLayer({ documentId: doc.id, layerId: style.id, selectionOnly: true, maxSide: 1024 });
    expect(crop.bounds).toEqual({ left: 200, top: 100, right: 400, bottom: 250 });
    expect([crop.image.width, crop.image.height]).toEqual([200, 150]);
    const big = await host.readLayer({ documentId: doc.id, layerId: bg.id, selectionOnly: false, maxSide: 500 });
    expect(ps.pixelReads[1]!.targetSize).toEqual({ width: 500 });
    expect([big.image.width, big.image.height]).toEqual([500, 400]);
    expect(big.bounds).toEqual({ left: 0, top: 0, right: 1000, bottom: 800 });
  });

  test('a region read (the layer to restyle): exactly the region, the layer\'s pixels where it has any, transparent elsewhere, scaled to maxSide', async () => {
    const { ps, doc, host } = setup();
    const { style } = addStyleLayer(doc); // content (100, 50)–(400, 250)
    const region = { left: 50, top: 0, right: 450, bottom: 300 };
    const px = (img: RgbaImage, x: number, y: number) => Array.from(img.data.subarray((y * img.width + x) * 4, (y * img.width + x) * 4 + 4));
    const full = await host.readLayer({ documentId: doc.id, layerId: style.id, selectionOnly: false, maxSide: 1024, region });
    expect(full.bounds).toEqual(region);
    expect([full.image.width, full.image.height]).toEqual([400, 300]);
    expect(px(full.image, 49, 49)).toEqual([0, 0, 0, 0]);
    expect(px(full.image, 50, 50)).toEqual([10, 120, 200, 128]);
    expect(px(full.image, 349, 249)).toEqual([10, 120, 200, 128]);
    expect(px(full.image, 350, 250)).toEqual([0, 0, 0, 0]);
    expect(ps.pixelReads[0]!.sourceBounds).toEqual({ left: 100, top: 50, right: 400, bottom: 250 }); // only the overlap is read
    const half = await host.readLayer({ documentId: doc.id, layerId: style.id, selectionOnly: false, maxSide: 200, region });
    expect([half.image.width, half.image.height]).toEqual([200, 150]);
    expect(ps.pixelReads[1]!.targetSize).toEqual({ width: 150 });
    expect(px(half.image, 24, 24)).toEqual([0, 0, 0, 0]);
    expect(px(half.image, 25, 25)).toEqual([10, 120, 200, 128]);
    expect(px(half.image, 174, 124)).toEqual([10, 120, 200, 128]);
    expect(px(half.image, 175, 125)).toEqual([0, 0, 0, 0]);
    await expect(host.readLayer({ documentId: doc.id, layerId: style.id, selectionOnly: false, maxSide: 1024, region: { left: 500, top: 500, right: 900, bottom: 800 } }))
      .rejects.toThrow(/has no pixels where the results go/);
    expect(ps.modalDepth).toBe(0);
    expect(ps.imageDataDisposed).toBe(ps.imageDataCreated);
  });

  test('refusals: empty layer, group, no selection, selection elsewhere, unsupported document', async () => {
    const { ps, doc, host } = setup();
    const { style } = addStyleLayer(doc);
    const empty = doc.addLayer('Layer 3', 'pixel', null);
    ps.modalDepth++;
    const group = await doc.createLayerGroup({ name: 'Group 1' });
    ps.modalDepth--;
    const read = (layerId: number, selectionOnly = false) =>
      host.readLayer({ documentId: doc.id, layerId, selectionOnly, maxSide: 1024 });
    await expect(read(empty.id)).rejects.toThrow(/Layer “Layer 3” is empty/);
    await expect(read(group!.id)).rejects.toThrow(/“Group 1” is a group layer/);
    await expect(read(style.id, true)).rejects.toThrow(/nothing is selected/);
    doc.selectionBounds = { left: 600, top: 600, right: 700, bottom: 700 };
    await expect(read(style.id, true)).rejects.toThrow(/does not overlap layer “Brush strokes”/);
    await expect(read(9999)).rejects.toThrow(HostError);
    const cmyk = ps.addDocument('print.psd', 10, 10, 'CMYKColorMode');
    await expect(host.readLayer({ documentId: cmyk.id, layerId: 1, selectionOnly: false, maxSide: 10 })).rejects.toThrow(/CMYK/);
    expect(ps.pixelReads).toEqual([]);
  });

  test('a modal collision becomes a "Photoshop is busy" message', async () => {
    const { ps, doc, host } = setup();
    const { style } = addStyleLayer(doc);
    ps.modalDepth = 1; // another plugin holds the modal state
    await expect(host.readLayer({ documentId: doc.id, layerId: style.id, selectionOnly: false, maxSide: 1024 })).rejects.toThrow(/Photoshop is busy/);
  });
});

describe('insertResults', () => {
  test('one history step: a group above the style layer, one layer per variation named with its seed, resized to the box before putPixels', async () => {
    const { ps, doc, host } = setup();
    const { bg, style } = addStyleLayer(doc);
    const inserted = await host.insertResults({
      documentId: doc.id,
      groupName: 'a lighthouse at dusk',
      layerPrefix: 'a lighthouse',
      target: { left: 0, top: 0, right: 1000, bottom: 800 },
      aboveLayerId: bg.id,
      results: [{ seed: 7, image: image(512, 512, 1) }, { seed: 8, image: image(512, 512, 2) }],
    });
    expect(ps.violations).toEqual([]);
    expect(ps.modalScopes).toEqual(['StyleStudio: insert results']);
    expect(ps.modalDepth).toBe(0);
    expect(ps.suspensions).toEqual([{ id: 1, documentID: doc.id, name: 'StyleStudio: a lighthouse at dusk', committed: true }]);
    const group = doc.find(inserted.groupId)!;
    expect(group.name).toBe('a lighthouse at dusk');
    // the group sits directly above the chosen layer (below the style layer, which is on top)
    expect(doc.top.map((l) => l.id)).toEqual([style.id, group.id, bg.id]);
    expect(group.children!.map((l) => l.name)).toEqual(['a lighthouse · seed 7', 'a lighthouse · seed 8']);
    expect(inserted.layerIds).toEqual(group.children!.map((l) => l.id));
    // 512² fitted into 1000×800: resized to 800×800 and written centred at x=100; Photoshop never rescales it
    const first = group.children![0]!;
    expect(first.content).toMatchObject({ left: 100, top: 0, width: 800, height: 800 });
    expect(first.content!.rgba[0]).toBe(1);
    expect(first.scaled).toBeNull();
    expect(ps.log.filter((l) => l.startsWith('scale'))).toEqual([]);
    expect(ps.imageDataDisposed).toBe(ps.imageDataCreated);
    // no selection mask asked for: no layer mask, no batchPlay
    expect(group.children!.map((l) => l.userMask)).toEqual([null, null]);
    expect(ps.log.filter((l) => /mask|select/.test(l))).toEqual([]);
  });

  test('over a selection; 16-bit documents get 16-bit data in Photoshop\'s 0..32768 range', async () => {
    const { ps, doc, host } = setup('RGBColorMode', 'bitDepth16');
    addStyleLayer(doc);
    const inserted = await host.insertResults({
      documentId: doc.id, groupName: 'g', layerPrefix: 'p', aboveLayerId: null,
      target: { left: 200, top: 100, right: 456, bottom: 228 },
      results: [{ seed: 1, image: image(256, 128, 255) }],
    });
    const layer = doc.find(inserted.layerIds[0]!)!;
    expect(layer.content).toMatchObject({ left: 200, top: 100, width: 256, height: 128 });
    expect(layer.content!.rgba).toBeInstanceOf(Uint16Array);
    expect(layer.content!.rgba[0]).toBe(32768);
    expect(layer.scaled).toBeNull(); // exact fit: no resampling
    expect(ps.violations).toEqual([]);
  });

  test('a failure part-way rolls the history step back and reports a HostError', async () => {
    const { ps, doc, host } = setup();
    addStyleLayer(doc);
    ps.failNextPut = new Error('The command “Put Pixels” is not currently available');
    await expect(
      host.insertResults({
        documentId: doc.id, groupName: 'g', layerPrefix: 'p', aboveLayerId: null,
        target: { left: 0, top: 0, right: 100, bottom: 100 }, results: [{ seed: 1, image: image(8, 8, 9) }],
      }),
    ).rejects.toThrow(/Photoshop could not insert the results: The command “Put Pixels”/);
    expect(ps.suspensions.map((s) => s.committed)).toEqual([false]);
    expect(ps.imageDataDisposed).toBe(ps.imageDataCreated);
    expect(ps.modalDepth).toBe(0);
  });

  test('a closed document is reported, not written to', async () => {
    const { ps, host } = setup();
    await expect(
      host.insertResults({
        documentId: 4242, groupName: 'g', layerPrefix: 'p', aboveLayerId: null,
        target: { left: 0, top: 0, right: 10, bottom: 10 }, results: [{ seed: 1, image: image(8, 8, 9) }],
      }),
    ).rejects.toThrow(/has been closed/);
    expect(ps.modalScopes).toEqual([]);
  });

  test('the fake itself refuses document changes outside a modal scope', async () => {
    const { ps, doc } = setup();
    await expect(doc.createPixelLayer({ name: 'x' })).rejects.toThrow(/inside executeAsModal/);
    expect(ps.violations).toEqual(['createPixelLayer']);
  });
});

/** An image whose every pixel holds its row number (R) and column (G), to see which part of it was placed. */
function rowsAndColumns(width: number, height: number): RgbaImage {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set([y, x % 256, 0, 255], (y * width + x) * 4);
  return { width, height, data };
}

/** A lasso-like selection: the triangle below the box's diagonal, with a half-selected antialiased edge. */
function lasso(left: number, top: number) {
  return (x: number, y: number): number => {
    const d = (x - left) - (y - top); // ≤ 0 on or below the diagonal
    return d < 0 ? 255 : d === 0 ? 128 : 0;
  };
}

/** How many bytes two equally long masks differ in (toEqual on megabyte arrays is slow). */
function differing(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.max(a.length, b.length);
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

describe('masking results to a selection', () => {
  test('a lasso-like selection: results cover its box, each gets a layer mask equal to the selection, the selection stays, one step', async () => {
    const { ps, doc, host } = setup();
    const { style } = addStyleLayer(doc);
    doc.select({ left: 200.4, top: 100, right: 520, bottom: 340 }, lasso(200, 100));
    const before = doc.selectionPixels();
    const mask = await host.readSelection(doc.id);
    expect(mask!.bounds).toEqual({ left: 200, top: 100, right: 520, bottom: 340 });
    expect(mask!.alpha.length).toBe(320 * 240);
    expect([mask!.alpha[0], mask!.alpha[1], mask!.alpha[320]]).toEqual([128, 0, 255]); // coverage, not just the box
    expect(ps.modalDepth).toBe(0);

    // 320×256 (the engine's stride) for a 320×240 box: scaled ×1 and 8 rows cropped from top and bottom
    const inserted = await host.insertResults({
      documentId: doc.id, groupName: 'g', layerPrefix: 'p', aboveLayerId: style.id,
      target: mask!.bounds, mask, results: [{ seed: 1, image: rowsAndColumns(320, 256) }, { seed: 2, image: rowsAndColumns(320, 256) }],
    });
    expect(ps.violations).toEqual([]);
    expect(ps.modalScopes).toEqual(['StyleStudio: read selection', 'StyleStudio: insert results']);
    expect(ps.suspensions).toEqual([{ id: 1, documentID: doc.id, name: 'StyleStudio: g', committed: true }]);
    for (const id of inserted.layerIds) {
      const layer = doc.find(id)!;
      expect(layer.content).toMatchObject({ left: 200, top: 100, width: 320, height: 240 });
      expect(Array.from(layer.content!.rgba.subarray(0, 4))).toEqual([8, 0, 0, 255]); // row 8 of the result at the box's top
      expect(Array.from(layer.content!.rgba.subarray(-4))).toEqual([247, 319 % 256, 0, 255]);
      expect(differing(layer.userMask!.alpha, before)).toBe(0); // the mask is the selection, pixel for pixel, outside the box too
    }
    expect(ps.log.filter((l) => /mask/i.test(l))).toEqual([
      `make mask ${inserted.layerIds[1]} hideAll`, `putLayerMask ${inserted.layerIds[1]} at 200,100 320×240`,
      `make mask ${inserted.layerIds[0]} hideAll`, `putLayerMask ${inserted.layerIds[0]} at 200,100 320×240`,
    ]);
    expect(doc.selectionBounds).toEqual({ left: 200.4, top: 100, right: 520, bottom: 340 });
    expect(differing(doc.selectionPixels(), before)).toBe(0);
    expect(ps.activations).toEqual([]); // the document was in front already
    expect(ps.imageDataDisposed).toBe(ps.imageDataCreated);
  });

  test('the selection changed while the job ran: results go to the captured one, and the new selection is left alone', async () => {
    const { ps, doc, host } = setup('RGBColorMode', 'bitDepth16');
    addStyleLayer(doc);
    doc.select({ left: 10, top: 20, right: 110, bottom: 220 }, lasso(10, 20));
    const captured = await host.readSelection(doc.id); // 16-bit coverage comes back as 0..255
    expect([captured!.alpha[0], captured!.alpha[100]]).toEqual([128, 255]);
    const atSubmit = doc.selectionPixels();
    doc.select({ left: 600, top: 500, right: 700, bottom: 600 }); // the user selects elsewhere meanwhile
    const now = doc.selectionPixels();
    const inserted = await host.insertResults({
      documentId: doc.id, groupName: 'g', layerPrefix: 'p', aboveLayerId: null,
      target: captured!.bounds, mask: captured, results: [{ seed: 1, image: image(64, 128, 200) }],
    });
    const layer = doc.find(inserted.layerIds[0]!)!;
    expect(layer.content).toMatchObject({ left: 10, top: 20, width: 100, height: 200 });
    expect(differing(layer.userMask!.alpha, atSubmit)).toBe(0);
    expect(differing(doc.selectionPixels(), now)).toBe(0);
    expect(ps.violations).toEqual([]);
  });

  test('a job whose document is no longer in front: that document is brought back for the mask command', async () => {
    const { ps, doc, host } = setup();
    addStyleLayer(doc);
    doc.select({ left: 0, top: 0, right: 64, bottom: 64 });
    const captured = await host.readSelection(doc.id);
    const other = ps.addDocument('other.psd', 100, 100); // now in front
    other.addLayer('Background', 'pixel', solid(0, 0, 100, 100, [0, 0, 0, 255]));
    const inserted = await host.insertResults({
      documentId: doc.id, groupName: 'g', layerPrefix: 'p', aboveLayerId: null,
      target: captured!.bounds, mask: captured, results: [{ seed: 1, image: image(64, 64, 9) }],
    });
    expect(ps.activations).toEqual([doc.id]);
    expect(doc.find(inserted.layerIds[0]!)!.userMask!.alpha[0]).toBe(255);
    expect(other.top.every((l) => l.userMask === null)).toBe(true);
  });

  test('no selection: nothing to capture, and nothing is read', async () => {
    const { ps, doc, host } = setup();
    expect(await host.readSelection(doc.id)).toBeNull();
    doc.select({ left: 2000, top: 0, right: 2100, bottom: 100 }); // entirely off the canvas
    expect(await host.readSelection(doc.id)).toBeNull();
    expect(ps.log.filter((l) => l.startsWith('getSelection'))).toEqual([]);
  });

  test('coverCrop: the centred part of the image with the target\'s aspect', () => {
    expect(coverCrop(320, 256, { left: 0, top: 0, right: 320, bottom: 240 })).toEqual({ left: 0, top: 8, width: 320, height: 240 });
    expect(coverCrop(512, 512, { left: 5, top: 5, right: 105, bottom: 55 })).toEqual({ left: 0, top: 128, width: 512, height: 256 });
    expect(coverCrop(256, 512, { left: 0, top: 0, right: 300, bottom: 600 })).toEqual({ left: 0, top: 0, width: 256, height: 512 });
    expect(coverCrop(300, 100, { left: 0, top: 0, right: 10, bottom: 10 })).toEqual({ left: 100, top: 0, width: 100, height: 100 });
  });
});

test('the pairing token round-trips through secure storage', async () => {
  const storage = new FakeSecureStorage();
  const host = new PhotoshopHost(new FakePhotoshop(), storage);
  expect(await host.tokens.load()).toBeNull();
  await host.tokens.save('tok-ABC_123');
  expect(storage.items.size).toBe(1);
  expect(await host.tokens.load()).toBe('tok-ABC_123');
  await host.tokens.clear();
  expect(await host.tokens.load()).toBeNull();
});

describe('resizeRgba', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { resizeRgba } = require('../../plugin/host/resample') as typeof import('../../plugin/host/resample');
  test('shrinks by area averaging, grows bilinearly, keeps flat colours exact and the size asked for', () => {
    const flat = new Uint8Array(7 * 5 * 4).fill(200);
    for (const [w, h] of [[3, 2], [14, 10], [1, 1], [700, 1]] as const) {
      const out = resizeRgba(flat, 7, 5, w, h);
      expect(out.length).toBe(w * h * 4);
      expect(out.every((v) => v === 200)).toBe(true);
    }
    // 4×1 black/white columns → 2×1: each output pixel averages one black and one white
    const bw = new Uint8Array([0, 0, 0, 255, 255, 255, 255, 255, 0, 0, 0, 255, 255, 255, 255, 255]);
    expect([...resizeRgba(bw, 4, 1, 2, 1)]).toEqual([128, 128, 128, 255, 128, 128, 128, 255]);
    expect(() => resizeRgba(flat, 7, 4, 2, 2)).toThrow(RangeError);
  });
});

describe('watchDocument', () => {
  test('Photoshop notifications that change the document reach the panel once per burst; unwatching stops them', async () => {
    const { ps, host } = setup();
    let calls = 0;
    const stop = host.watchDocument(() => calls++);
    await new Promise((r) => setTimeout(r, 0));
    expect([...ps.notificationListeners.values()][0]).toEqual(expect.arrayContaining(['select', 'make', 'delete', 'set', 'open', 'close']));
    ps.notify('make');
    ps.notify('set');
    ps.notify('select');
    await new Promise((r) => setTimeout(r, 300));
    expect(calls).toBe(1);
    ps.notify('brushStroke'); // not a document-structure event: no listener for it
    await new Promise((r) => setTimeout(r, 300));
    expect(calls).toBe(1);
    stop();
    await new Promise((r) => setTimeout(r, 0));
    expect(ps.notificationListeners.size).toBe(0);
  });
});
