/** @jest-environment jsdom */
// The explicit prologue keeps the docblock above tsc's "use strict", where jest looks for it.
'use strict';
import { act, fireEvent, render, screen, within } from '@testing-library/react';
import { DEFAULT_LIMITS } from '../../protocol';
import type { ConnectionState } from '../../plugin/client/companion-client';
import type { PanelState } from '../../plugin/session/panel-session';
import { DEFAULT_SETTINGS } from '../../plugin/session/settings';
import { Panel, type PanelActions } from '../../plugin/ui/Panel';
import { SAMPLE_DOC } from './fakes/memory-host';

const welcome = {
  type: 'welcome' as const, companionVersion: '0.1.0', protocolVersion: '2.0', providers: ['cpu'], provider: 'cpu',
  models: [], engine: { ready: true }, limits: DEFAULT_LIMITS,
};
const READY: ConnectionState = { kind: 'ready', welcome };

function baseState(patch: Partial<PanelState> = {}): PanelState {
  return {
    connection: READY, hasToken: true, document: { kind: 'ready', doc: SAMPLE_DOC }, settings: DEFAULT_SETTINGS,
    job: null, results: [], notice: null, download: null, modelSets: null, switchingSet: false,
    presets: null, presetSource: null, presetBusy: false, ...patch,
  };
}

function recorder(): PanelActions & { calls: Array<[string, unknown[]]> } {
  const calls: Array<[string, unknown[]]> = [];
  const rec = (name: string) => (...args: unknown[]) => void calls.push([name, args]);
  return {
    calls,
    pair: rec('pair'), forgetToken: rec('forgetToken'), refreshDocument: rec('refreshDocument'), update: rec('update'),
    generate: rec('generate'), cancel: rec('cancel'), reinsert: rec('reinsert'), reuseSeed: rec('reuseSeed'), dismissNotice: rec('dismissNotice'),
    downloadModels: rec('downloadModels'), selectModelSet: rec('selectModelSet'), applyPreset: rec('applyPreset'),
    savePreset: (...args: unknown[]) => (calls.push(['savePreset', args]), Promise.resolve(true)), deletePreset: rec('deletePreset'),
  };
}

function setValue(el: HTMLElement, prop: string, value: unknown, event: 'input' | 'change') {
  (el as unknown as Record<string, unknown>)[prop] = value;
  act(() => {
    fireEvent[event](el);
  });
}

function renderPanel(state: PanelState, outputSize = { width: 1024, height: 576 }) {
  const actions = recorder();
  const utils = render(<Panel state={state} outputSize={outputSize} actions={actions} />);
  return { actions, ...utils, rerenderWith: (s: PanelState) => utils.rerender(<Panel state={s} outputSize={outputSize} actions={actions} />) };
}

describe('connection and pairing', () => {
  test('unpaired: explains how to get a token; Pair sends the pasted token', () => {
    const { actions } = renderPanel(baseState({ connection: { kind: 'unpaired' }, hasToken: false }));
    expect(screen.getByTestId('connection-title').textContent).toBe('Not paired');
    expect(screen.getByTestId('connection-detail').textContent).toMatch(/npx stylestudio serve/);
    const pair = screen.getByTestId('pair');
    expect(pair.hasAttribute('disabled')).toBe(true);
    setValue(screen.getByTestId('token'), 'value', ' abc123 ', 'input');
    expect(pair.hasAttribute('disabled')).toBe(false);
    act(() => void fireEvent.click(pair));
    expect(actions.calls).toContainEqual(['pair', [' abc123 ']]);
  });

  test('the token field is a plain text field (UXP password fields are unreadable on macOS) with a show/hide control', () => {
    const { actions } = renderPanel(baseState({ connection: { kind: 'unpaired' }, hasToken: false }));
    const field = screen.getByTestId('token');
    expect(field.getAttribute('type')).toBe('text');
    setValue(field, 'value', 'secret-token-123', 'input');
    act(() => void fireEvent.click(screen.getByTestId('token-visibility')));
    expect(screen.queryByTestId('token')).toBeNull();
    expect(screen.getByTestId('token-masked').textContent).toBe('•••••••••••• (16 characters)');
    expect(screen.getByTestId('token-masked').textContent).not.toContain('secret');
    act(() => void fireEvent.click(screen.getByTestId('pair')));
    expect(actions.calls).toContainEqual(['pair', ['secret-token-123']]);
  });

  test('Enter in the token field pairs too', () => {
    const { actions } = renderPanel(baseState({ connection: { kind: 'unpaired' }, hasToken: false }));
    const field = screen.getByTestId('token');
    setValue(field, 'value', 'tok', 'input');
    act(() => void fireEvent.keyDown(field, { key: 'Enter' }));
    expect(actions.calls).toContainEqual(['pair', ['tok']]);
  });

  test.each<[ConnectionState, RegExp, RegExp, boolean]>([
    [{ kind: 'unreachable', attempt: 3, retryInMs: 4000 }, /Companion not running/, /Nothing answers on 127\.0\.0\.1:47821.*stylestudio serve.*Retrying in 4 s/, false],
    [{ kind: 'refused', code: 'BAD_TOKEN', message: 'The companion did not accept this pairing token.' }, /Wrong token/, /did not accept/, true],
    [{ kind: 'refused', code: 'VERSION_MISMATCH', message: 'The companion speaks protocol 2.0, this panel 1.0. Update this panel.' }, /Version mismatch/, /protocol 2\.0.*Update this panel/, false],
    [{ kind: 'connecting', attempt: 1 }, /Connecting/, /127\.0\.0\.1:47821/, false],
    [READY, /Connected/, /Companion 0\.1\.0 on cpu/, false],
  ])('%j', (connection, title, detail, asksToken) => {
    renderPanel(baseState({ connection }));
    expect(screen.getByTestId('connection-title').textContent).toMatch(title);
    expect(screen.getByTestId('connection-detail').textContent).toMatch(detail);
    expect(screen.queryByTestId('token') !== null).toBe(asksToken);
  });

  test('models missing: the engine\'s reason is shown with a download button, then download progress', () => {
    const notReady: ConnectionState = {
      kind: 'ready',
      welcome: {
        ...welcome, engine: { ready: false, reason: 'models missing: sdxl-base' },
        models: [
          { id: 'sdxl-base', description: 'SDXL', repo: 'x/y', present: false, missingBytes: 6.6e9 },
          { id: 'vae', description: 'VAE', repo: 'x/z', present: true, missingBytes: 0 },
        ],
      },
    };
    const { actions, rerenderWith } = renderPanel(baseState({ connection: notReady, settings: { ...DEFAULT_SETTINGS, prompt: 'p' } }));
    expect(screen.getByTestId('connection-detail').textContent).toMatch(/Not ready: models missing: sdxl-base/);
    expect(screen.getByTestId('generate').hasAttribute('disabled')).toBe(true);
    expect(screen.getByTestId('download-models').textContent).toBe('Download models (about 6.6 GB)');
    act(() => void fireEvent.click(screen.getByTestId('download-models')));
    expect(actions.calls).toContainEqual(['downloadModels', []]);
    rerenderWith(baseState({ connection: notReady, download: { started: true, model: 'sdxl-base', file: 'unet.safetensors', receivedBytes: 2e9, totalBytes: 5e9 } }));
    const bar = screen.getByTestId('download-progress');
    expect([bar.getAttribute('value'), bar.getAttribute('max')]).toEqual(['2000', '5000']);
    expect(screen.queryByTestId('download-models')).toBeNull();
  });

  test('model sets: a picker when the companion offers a choice; unusable ones disabled with why; locked while a job runs', () => {
    const sets = {
      type: 'modelSets' as const, current: 'default', models: [], engine: { ready: true },
      sets: [
        { id: 'default', name: 'Default set', kind: 'default' as const, usable: true },
        { id: 'sdxl/juggernaut.safetensors', name: 'juggernaut.safetensors', kind: 'checkpoint' as const, usable: true },
        { id: 'broken.safetensors', name: 'broken.safetensors', kind: 'checkpoint' as const, usable: false, reason: 'truncated' },
      ],
    };
    const { actions, rerenderWith } = renderPanel(baseState({ modelSets: sets }));
    const picker = screen.getByTestId('model-set');
    const items = Array.from(picker.querySelectorAll('sp-menu-item'));
    expect(items.map((i) => i.textContent)).toEqual(['Default set', 'juggernaut.safetensors', 'broken.safetensors (cannot be used: truncated)']);
    expect(items.map((i) => i.hasAttribute('disabled'))).toEqual([false, false, true]);
    setValue(picker, 'selectedIndex', 1, 'change');
    expect(actions.calls[actions.calls.length - 1]).toEqual(['selectModelSet', ['sdxl/juggernaut.safetensors']]);
    rerenderWith(baseState({ modelSets: sets, job: { phase: 'running', position: 0, step: 1, total: 4, previewUrl: null, stage: null, received: 0, variations: 1, cancelling: false } }));
    expect(screen.getByTestId('model-set').hasAttribute('disabled')).toBe(true);
    rerenderWith(baseState({ modelSets: { ...sets, sets: sets.sets.slice(0, 1) } }));
    expect(screen.queryByTestId('model-set')).toBeNull(); // nothing to choose
  });

  test('Generate is disabled until connected, with a document and a prompt', () => {
    const off = renderPanel(baseState({ connection: { kind: 'unpaired' }, settings: { ...DEFAULT_SETTINGS, prompt: 'p' } }));
    expect(screen.getByTestId('generate').hasAttribute('disabled')).toBe(true);
    off.rerenderWith(baseState({ settings: { ...DEFAULT_SETTINGS, prompt: '  ' } }));
    expect(screen.getByTestId('generate').hasAttribute('disabled')).toBe(true);
    off.rerenderWith(baseState({ settings: { ...DEFAULT_SETTINGS, prompt: 'a cat' } }));
    expect(screen.getByTestId('generate').hasAttribute('disabled')).toBe(false);
    act(() => void fireEvent.click(screen.getByTestId('generate')));
    expect(off.actions.calls).toContainEqual(['generate', []]);
  });
});

describe('source and settings', () => {
  test('the style layer defaults to the active layer and lists the document\'s layers', () => {
    const { actions } = renderPanel(baseState());
    const picker = screen.getByTestId('source-layer');
    const labels = Array.from(picker.querySelectorAll('sp-menu-item')).map((i) => i.textContent);
    expect(labels).toEqual(['Active layer (Ink texture)', 'Ink texture', 'Photo', 'Background']);
    expect(picker.querySelector('sp-menu-item')!.hasAttribute('selected')).toBe(true);
    setValue(picker, 'selectedIndex', 2, 'change');
    expect(actions.calls).toContainEqual(['update', [{ sourceLayerId: 2 }]]);
  });

  test('selection-only is unavailable without a selection', () => {
    renderPanel(baseState());
    expect(screen.getByTestId('selection-only').hasAttribute('disabled')).toBe(true);
    expect(screen.getByTestId('selection-only').textContent).toMatch(/no selection/);
  });

  test('mask to selection: one click turns it off or on; unavailable without a selection', () => {
    const { actions, rerenderWith } = renderPanel(baseState({ document: { kind: 'ready', doc: { ...SAMPLE_DOC, selection: { left: 0, top: 0, right: 10, bottom: 10 } } } }));
    const box = screen.getByTestId('mask-to-selection');
    expect(box.textContent).toBe('Mask to selection');
    expect(box.hasAttribute('checked')).toBe(true);
    expect(box.hasAttribute('disabled')).toBe(false);
    setValue(box, 'checked', false, 'change');
    expect(actions.calls).toContainEqual(['update', [{ maskToSelection: false }]]);
    rerenderWith(baseState());
    expect(screen.getByTestId('mask-to-selection').hasAttribute('disabled')).toBe(true);
    expect(screen.getByTestId('mask-to-selection').textContent).toBe('Mask to selection (no selection)');
  });

  test('several references: one click adds the next unused layer; each has a picker, a weight and Remove; the style layer\'s weight shows', () => {
    const { actions, rerenderWith } = renderPanel(baseState());
    expect(screen.queryByTestId('style-weight')).toBeNull();
    act(() => void fireEvent.click(screen.getByTestId('add-reference')));
    // the active layer (3) is the style: the next readable one is Photo (2)
    expect(actions.calls).toContainEqual(['update', [{ moreStyles: [{ layerId: 2, weight: 1 }] }]]);
    const two = { ...DEFAULT_SETTINGS, moreStyles: [{ layerId: 2, weight: 1 }] };
    rerenderWith(baseState({ settings: two }));
    expect(screen.getAllByTestId('reference')).toHaveLength(1);
    expect(screen.getByTestId('style-weight').textContent).toMatch(/Style layer weight: 100 %/);
    setValue(within(screen.getByTestId('reference')).getByTestId('reference-weight'), 'value', 0.5, 'input');
    expect(actions.calls).toContainEqual(['update', [{ moreStyles: [{ layerId: 2, weight: 0.5 }] }]]);
    setValue(within(screen.getByTestId('reference')).getByTestId('reference-layer'), 'selectedIndex', 3, 'change'); // [Choose…, Ink, Photo, Background]
    expect(actions.calls).toContainEqual(['update', [{ moreStyles: [{ layerId: 1, weight: 1 }] }]]);
    act(() => void fireEvent.click(screen.getByTestId('add-reference')));
    expect(actions.calls).toContainEqual(['update', [{ moreStyles: [{ layerId: 2, weight: 1 }, { layerId: 1, weight: 1 }] }]]);
    act(() => void fireEvent.click(screen.getByTestId('remove-reference')));
    expect(actions.calls).toContainEqual(['update', [{ moreStyles: [] }]]);
    // at most five references in all
    rerenderWith(baseState({ settings: { ...DEFAULT_SETTINGS, moreStyles: [1, 2, 3, 4].map(() => ({ layerId: 2, weight: 1 })) } }));
    expect(screen.queryByTestId('add-reference')).toBeNull();
  });

  test('restyle: choosing a layer shows Change and "Only inside the selection" (one click; needs a selection masked to)', () => {
    const { actions, rerenderWith } = renderPanel(baseState());
    expect(screen.queryByTestId('denoise')).toBeNull();
    setValue(screen.getByTestId('restyle-layer'), 'selectedIndex', 2, 'change'); // [Nothing, Ink texture, Photo, …]
    expect(actions.calls).toContainEqual(['update', [{ restyleLayerId: 2 }]]);
    rerenderWith(baseState({ settings: { ...DEFAULT_SETTINGS, restyleLayerId: 2 } }));
    expect(screen.getByTestId('denoise').textContent).toMatch(/Change: 60 %/);
    expect(screen.getByTestId('inpaint').hasAttribute('disabled')).toBe(true);
    expect(screen.getByTestId('inpaint').textContent).toMatch(/needs a selection/);
    const selected = { kind: 'ready' as const, doc: { ...SAMPLE_DOC, selection: { left: 0, top: 0, right: 10, bottom: 10 } } };
    rerenderWith(baseState({ document: selected, settings: { ...DEFAULT_SETTINGS, restyleLayerId: 2 } }));
    expect(screen.getByTestId('inpaint').hasAttribute('disabled')).toBe(false);
    setValue(screen.getByTestId('inpaint'), 'checked', true, 'change');
    expect(actions.calls).toContainEqual(['update', [{ inpaint: true }]]);
  });

  test('avoid several layers: with "the style of a layer", one click adds the next unused layer; Remove drops it', () => {
    const avoiding = { ...DEFAULT_SETTINGS, avoid: { kind: 'layer' as const, layerId: 2 } };
    const { actions, rerenderWith } = renderPanel(baseState({ settings: avoiding }));
    act(() => void fireEvent.click(screen.getByTestId('add-avoid')));
    expect(actions.calls).toContainEqual(['update', [{ moreAvoidLayerIds: [3] }]]);
    rerenderWith(baseState({ settings: { ...avoiding, moreAvoidLayerIds: [3] } }));
    setValue(screen.getByTestId('avoid-more-layer'), 'selectedIndex', 3, 'change'); // [Choose…, Ink, Photo, Background]
    expect(actions.calls).toContainEqual(['update', [{ moreAvoidLayerIds: [1] }]]);
    act(() => void fireEvent.click(screen.getByTestId('remove-avoid')));
    expect(actions.calls).toContainEqual(['update', [{ moreAvoidLayerIds: [] }]]);
    rerenderWith(baseState());
    expect(screen.queryByTestId('add-avoid')).toBeNull(); // only with "the style of a layer"
  });

  test('avoid: choosing "a layer" shows a second layer picker', () => {
    const { actions, rerenderWith } = renderPanel(baseState());
    setValue(screen.getByTestId('avoid'), 'selectedIndex', 1, 'change');
    expect(actions.calls).toContainEqual(['update', [{ avoid: { kind: 'layer', layerId: null } }]]);
    rerenderWith(baseState({ settings: { ...DEFAULT_SETTINGS, avoid: { kind: 'layer', layerId: null } } }));
    setValue(screen.getByTestId('avoid-layer'), 'selectedIndex', 2, 'change'); // [Choose…, Ink texture, Photo, …]
    expect(actions.calls).toContainEqual(['update', [{ avoid: { kind: 'layer', layerId: 2 } }]]);
    setValue(screen.getByTestId('avoid'), 'selectedIndex', 3, 'change');
    expect(actions.calls).toContainEqual(['update', [{ avoid: { kind: 'drop', elements: ['texture'] } }]]);
  });

  test('avoid offers each element of the reference; picking one asks for its derived negative', () => {
    const { actions } = renderPanel(baseState());
    const picker = screen.getByTestId('avoid');
    const labels = Array.from(picker.querySelectorAll('sp-menu-item')).map((i) => i.textContent);
    expect(labels).toEqual([
      'Nothing', 'The style of a layer…', 'The reference’s colours', 'The reference’s texture', 'The reference’s brushwork', 'The reference’s lighting',
    ]);
    expect(screen.queryByTestId('leave-out')).toBeNull(); // the element checkboxes come with an element
    for (const [index, element] of [[2, 'colour'], [4, 'brushwork'], [5, 'lighting']] as const) {
      setValue(picker, 'selectedIndex', index, 'change');
      expect(actions.calls).toContainEqual(['update', [{ avoid: { kind: 'drop', elements: [element] } }]]);
    }
  });

  test('several elements: one more click each; the picker names them all; the last one cannot be unticked', () => {
    const lighting = { ...DEFAULT_SETTINGS, avoid: { kind: 'drop' as const, elements: ['lighting'] as const } };
    const { actions, rerenderWith } = renderPanel(baseState({ settings: lighting }));
    const box = (e: string) => screen.getByTestId(`leave-out-${e}`);
    expect(['colour', 'texture', 'brushwork', 'lighting'].map((e) => box(e).hasAttribute('checked'))).toEqual([false, false, false, true]);
    expect(box('lighting').hasAttribute('disabled')).toBe(true); // the only one: Avoid → Nothing turns it off
    setValue(box('colour'), 'checked', true, 'change');
    expect(actions.calls).toContainEqual(['update', [{ avoid: { kind: 'drop', elements: ['colour', 'lighting'] } }]]);
    rerenderWith(baseState({ settings: { ...lighting, avoid: { kind: 'drop', elements: ['colour', 'lighting'] } } }));
    const picker = screen.getByTestId('avoid');
    const items = Array.from(picker.querySelectorAll('sp-menu-item'));
    expect(items.map((i) => i.textContent).at(-1)).toBe('The reference’s colours and lighting');
    expect(items.at(-1)!.hasAttribute('selected')).toBe(true);
    expect(box('lighting').hasAttribute('disabled')).toBe(false);
    setValue(box('lighting'), 'checked', false, 'change');
    expect(actions.calls).toContainEqual(['update', [{ avoid: { kind: 'drop', elements: ['colour'] } }]]);
  });


  test('prompt, switches, sliders and seed report their values', () => {
    const { actions, rerenderWith } = renderPanel(baseState());
    setValue(screen.getByTestId('prompt'), 'value', 'a red fox', 'input');
    setValue(screen.getByTestId('adain'), 'checked', false, 'change');
    setValue(screen.getByTestId('teacher'), 'checked', false, 'change');
    setValue(screen.getByTestId('variations'), 'value', 9, 'input'); // clamped to 4
    setValue(screen.getByTestId('guidance'), 'value', '7.5', 'input');
    setValue(screen.getByTestId('fixed-seed'), 'checked', true, 'change');
    expect(actions.calls.filter(([n]) => n === 'update').map(([, a]) => a[0])).toEqual([
      { prompt: 'a red fox' }, { adain: false }, { teacher: false }, { variations: 4 }, { guidance: 7.5 }, { seedMode: 'fixed' },
    ]);
    rerenderWith(baseState({ settings: { ...DEFAULT_SETTINGS, seedMode: 'fixed', seed: 5, adain: false } }));
    // one strength slider for every adapter; it stays usable with AdaIN off (it also sets the adapter scale)
    expect(screen.getByTestId('strength').hasAttribute('disabled')).toBe(false);
    setValue(screen.getByTestId('strength'), 'value', '0.6', 'input');
    expect(actions.calls[actions.calls.length - 1]).toEqual(['update', [{ strength: 0.6 }]]);
    setValue(screen.getByTestId('seed'), 'value', '1234', 'input');
    expect(actions.calls[actions.calls.length - 1]).toEqual(['update', [{ seed: 1234 }]]);
  });

  test('the seed is a text field taking every seed the companion takes (far beyond UXP number fields), with validation', () => {
    const { actions } = renderPanel(baseState({ settings: { ...DEFAULT_SETTINGS, seedMode: 'fixed', seed: 5 } }));
    const seed = screen.getByTestId('seed');
    expect(seed.getAttribute('type')).toBe('text');
    setValue(seed, 'value', String(2 ** 48), 'input');
    expect(actions.calls[actions.calls.length - 1]).toEqual(['update', [{ seed: 2 ** 48 }]]);
    setValue(seed, 'value', '9,007,199,254,740,986', 'input'); // MAX_SEED, with separators
    expect(actions.calls[actions.calls.length - 1]).toEqual(['update', [{ seed: 9007199254740986 }]]);
    expect(screen.queryByTestId('seed-error')).toBeNull();
    const before = actions.calls.length;
    for (const bad of ['-1', '1.5', 'abc', '9007199254740988', '']) {
      setValue(seed, 'value', bad, 'input');
      expect(screen.getByTestId('seed-error').textContent).toMatch(/seed|Seeds/);
    }
    expect(actions.calls.length).toBe(before); // nothing invalid reaches the settings
  });

  test('output size is shown with where its shape comes from', () => {
    renderPanel(baseState(), { width: 1024, height: 576 });
    expect(screen.getByTestId('output-size').textContent).toBe('1024 × 576, shaped like the document');
  });

  test('unsupported documents show the refusal and a way to check again', () => {
    const { actions } = renderPanel(baseState({ document: { kind: 'unsupported', title: 'x', reason: 'This document is in CMYK mode. …' } }));
    expect(screen.getByTestId('document-problem').textContent).toMatch(/CMYK/);
    act(() => void fireEvent.click(screen.getByTestId('refresh')));
    expect(actions.calls).toContainEqual(['refreshDocument', []]);
  });
});

describe('job and results', () => {
  const job = { phase: 'running' as const, position: 0, step: 7, total: 40, previewUrl: 'blob:preview/1', stage: null, received: 1, variations: 2, cancelling: false };

  test('while the companion loads a network the status says which', () => {
    renderPanel(baseState({ job: { ...job, step: 0, stage: 'loading the UNet', previewUrl: null, received: 0 } }));
    expect(screen.getByTestId('job-status').textContent).toMatch(/^Loading the UNet… step 0 of 40/);
  });

  test('progress with live preview; Cancel and Esc cancel', () => {
    const { actions } = renderPanel(baseState({ job }));
    const bar = screen.getByTestId('progress');
    expect([bar.getAttribute('value'), bar.getAttribute('max')]).toEqual(['7', '40']);
    expect(screen.getByTestId('job-status').textContent).toMatch(/step 7 of 40.*1\/2 done/);
    expect(screen.getByTestId('preview').getAttribute('src')).toBe('blob:preview/1');
    expect(screen.queryByTestId('generate')).toBeNull();
    act(() => void fireEvent.click(screen.getByTestId('cancel')));
    act(() => void fireEvent.keyDown(screen.getByTestId('prompt'), { key: 'Escape' }));
    expect(actions.calls.filter(([n]) => n === 'cancel')).toHaveLength(2);
  });

  test('Ctrl+Enter generates from the prompt field', () => {
    const { actions } = renderPanel(baseState({ settings: { ...DEFAULT_SETTINGS, prompt: 'p' } }));
    act(() => void fireEvent.keyDown(screen.getByTestId('prompt'), { key: 'Enter', ctrlKey: true }));
    expect(actions.calls).toContainEqual(['generate', []]);
  });

  test('results list seeds; insert again only while pixels are kept; reuse seed', () => {
    const results = [
      { id: 'r2', prompt: 'fox', seed: 43, width: 1024, height: 576, thumbnailUrl: 'blob:t/2', inserted: true, canReinsert: true },
      { id: 'r1', prompt: 'fox', seed: 42, width: 1024, height: 576, thumbnailUrl: 'blob:t/1', inserted: false, canReinsert: false },
    ];
    const { actions } = renderPanel(baseState({ results }));
    const rows = screen.getAllByTestId('result');
    expect(rows.map((r) => within(r).getByTestId('result-seed').textContent)).toEqual(['seed 43 · 1024×576 · in document', 'seed 42 · 1024×576']);
    expect(within(rows[1]!).getByTestId('reinsert').hasAttribute('disabled')).toBe(true);
    act(() => void fireEvent.click(within(rows[1]!).getByTestId('reinsert')));
    act(() => void fireEvent.click(within(rows[0]!).getByTestId('reinsert')));
    act(() => void fireEvent.click(within(rows[1]!).getByTestId('reuse-seed')));
    expect(actions.calls.filter(([n]) => n === 'reinsert' || n === 'reuseSeed')).toEqual([['reinsert', ['r2']], ['reuseSeed', ['r1']]]);
  });

  test('errors are announced as alerts and can be dismissed', () => {
    const { actions } = renderPanel(baseState({ notice: { kind: 'error', text: 'The companion\'s queue is full.' } }));
    expect(screen.getByRole('alert').textContent).toMatch(/queue is full/);
    act(() => void fireEvent.click(screen.getByTestId('dismiss')));
    expect(actions.calls).toContainEqual(['dismissNotice', []]);
  });
});

describe('style presets', () => {
  const preset = {
    version: 1 as const, name: 'ink series', createdAt: 'now', references: [{ image: 'reference-0.png', weight: 1 }],
    elements: { kind: 'none' as const }, madeWith: {}, settings: { crossModalAdain: true, guidance: 5, steps: 20, width: 1024, height: 1024 },
    seed: { kind: 'random' as const },
  };
  const presets = [{ name: 'ink series', preset }, { name: 'broken', problem: 'preset.json: not valid JSON' }];

  test('the Preset picker applies one (open, choose); unreadable ones are listed, disabled', () => {
    const { actions } = renderPanel(baseState({ presets }));
    const picker = screen.getByTestId('preset');
    const items = Array.from(picker.querySelectorAll('sp-menu-item'));
    expect(items.map((i) => i.textContent)).toEqual(['Choose a preset…', 'ink series', 'broken (unreadable)']);
    expect(items.map((i) => i.hasAttribute('disabled'))).toEqual([false, false, true]);
    setValue(picker, 'selectedIndex', 1, 'change');
    expect(actions.calls[actions.calls.length - 1]).toEqual(['applyPreset', ['ink series']]);
  });

  test('Save as preset…: a name, then Save (Replace for an existing name); bad names say why and cannot be saved', async () => {
    const { actions } = renderPanel(baseState({ presets }));
    expect(screen.queryByTestId('preset-name')).toBeNull();
    act(() => void fireEvent.click(screen.getByTestId('save-preset')));
    setValue(screen.getByTestId('preset-name'), 'value', '../x', 'input');
    expect(screen.getByTestId('preset-name-error').textContent).toMatch(/must be 1–64 letters/);
    expect(screen.getByTestId('preset-save').hasAttribute('disabled')).toBe(true);
    setValue(screen.getByTestId('preset-name'), 'value', 'ink series', 'input');
    expect(screen.getByTestId('preset-save').textContent).toBe('Replace');
    setValue(screen.getByTestId('preset-name'), 'value', ' harbour ', 'input');
    expect(screen.getByTestId('preset-save').textContent).toBe('Save');
    await act(async () => void fireEvent.click(screen.getByTestId('preset-save')));
    expect(actions.calls[actions.calls.length - 1]).toEqual(['savePreset', ['harbour', false]]);
    expect(screen.queryByTestId('preset-name')).toBeNull(); // saved: the name field closes
  });

  test('the applied preset can be deleted: Delete, then Delete again to confirm (Keep backs out); none without one applied', () => {
    const { actions, rerenderWith } = renderPanel(baseState({ presets }));
    expect(screen.queryByTestId('delete-preset')).toBeNull();
    rerenderWith(baseState({ presets, presetSource: { name: 'ink series', thumbnailUrl: 'blob:ref', negative: false } }));
    act(() => void fireEvent.click(screen.getByTestId('delete-preset')));
    expect(screen.getByTestId('delete-preset-confirm').textContent).toMatch(/Delete preset “ink series” from the companion\?/);
    act(() => void fireEvent.click(screen.getByTestId('delete-preset-no')));
    expect(screen.queryByTestId('delete-preset-confirm')).toBeNull();
    expect(actions.calls.some(([name]) => name === 'deletePreset')).toBe(false);
    act(() => void fireEvent.click(screen.getByTestId('delete-preset')));
    act(() => void fireEvent.click(screen.getByTestId('delete-preset-yes')));
    expect(actions.calls[actions.calls.length - 1]).toEqual(['deletePreset', ['ink series']]);
    expect(screen.queryByTestId('delete-preset-confirm')).toBeNull();
  });

  test('an applied preset is the style source, shown with its reference; picking a layer ends it', () => {
    const { actions } = renderPanel(baseState({ presets, presetSource: { name: 'ink series', thumbnailUrl: 'blob:ref', negative: true } }));
    const source = screen.getByTestId('source-layer');
    expect(source.querySelector('sp-menu-item')!.textContent).toBe('Preset “ink series” reference');
    expect(screen.getByTestId('preset-source').textContent).toMatch(/Style from preset “ink series”, avoiding its negative image; pick a layer/);
    expect(screen.getByTestId('preset-source').querySelector('img')!.getAttribute('src')).toBe('blob:ref');
    setValue(source, 'selectedIndex', 2, 'change'); // [preset, active, first layer, …]
    expect(actions.calls[actions.calls.length - 1]![0]).toBe('update');
    expect(actions.calls[actions.calls.length - 1]![1]).toEqual([{ sourceLayerId: expect.any(Number) }]);
  });
});
