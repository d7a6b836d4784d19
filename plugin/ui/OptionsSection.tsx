import { useEffect, useState } from 'react';
import { MAX_SEED } from '../../protocol';
import type { Settings } from '../session/settings';
import { LONG_SIDES } from '../session/settings';
import { Checkbox, Picker, Slider, TextArea, TextField } from './spectrum';

/**
 * A seed typed as text: UXP's type=number field stops at ±214,748.36, the companion takes 0 … MAX_SEED.
 * Returns the seed, or a message saying what is wrong.
 */
export function parseSeed(text: string): { seed: number } | { error: string } {
  const t = text.trim().replace(/[\s,_]/g, '');
  if (t === '') return { error: 'Type a seed: a whole number from 0.' };
  if (!/^\d+$/.test(t)) return { error: 'A seed is a whole number from 0 (digits only).' };
  const n = Number(t);
  if (!Number.isSafeInteger(n) || n > MAX_SEED) return { error: `Seeds go up to ${MAX_SEED.toLocaleString('en-US')}.` };
  return { seed: n };
}

function SeedField(props: { seed: number; onSeed: (seed: number) => void }) {
  const [draft, setDraft] = useState(String(props.seed));
  const [error, setError] = useState<string | null>(null);
  // A seed set from outside (e.g. "reuse seed") replaces the draft.
  useEffect(() => {
    setDraft((d) => {
      const parsed = parseSeed(d);
      return 'seed' in parsed && parsed.seed === props.seed ? d : String(props.seed);
    });
    setError(null);
  }, [props.seed]);
  return (
    <div className="grow">
      <TextField
        label="Seed"
        type="text"
        value={draft}
        onChange={(v) => {
          setDraft(v);
          const parsed = parseSeed(v);
          if ('seed' in parsed) {
            setError(null);
            props.onSeed(parsed.seed);
          } else {
            setError(parsed.error);
          }
        }}
        testId="seed"
      />
      {error ? <sp-detail class="field-error" data-testid="seed-error">{error}</sp-detail> : null}
    </div>
  );
}

export function PromptSection(props: { settings: Settings; onChange: (patch: Partial<Settings>) => void }) {
  return (
    <section className="prompt" data-testid="prompt-section">
      <PromptArea label="Prompt" value={props.settings.prompt} placeholder="what to paint, e.g. a lighthouse at dusk" onChange={(prompt) => props.onChange({ prompt })} testId="prompt" />
      <PromptArea label="Negative prompt" value={props.settings.negativePrompt} placeholder="optional: what to keep out" onChange={(negativePrompt) => props.onChange({ negativePrompt })} testId="negative-prompt" />
    </section>
  );
}

function PromptArea(props: { label: string; value: string; placeholder: string; onChange: (v: string) => void; testId: string }) {
  return <TextArea label={props.label} value={props.value} placeholder={props.placeholder} onChange={props.onChange} testId={props.testId} />;
}

export function OptionsSection(props: {
  settings: Settings;
  outputSize: { width: number; height: number } | null;
  fromSelection: boolean;
  onChange: (patch: Partial<Settings>) => void;
}) {
  const s = props.settings;
  const set = props.onChange;
  return (
    <section className="options" data-testid="options">
      <Slider label="Style strength" value={s.strength} min={0} max={1} step={0.05} onChange={(strength) => set({ strength })} format={(v) => v.toFixed(2)} testId="strength" />
      <Checkbox checked={s.adain} onChange={(adain) => set({ adain })} testId="adain">
        Cross-modal AdaIN (style follows the text layout)
      </Checkbox>
      <Checkbox checked={s.teacher} onChange={(teacher) => set({ teacher })} testId="teacher">
        Teacher model (steadier layout)
      </Checkbox>
      <Slider label="Teacher steps" value={Math.min(s.teacherSteps, s.steps)} min={1} max={s.steps} disabled={!s.teacher} onChange={(teacherSteps) => set({ teacherSteps })} testId="teacher-steps" />
      <Slider label="Guidance" value={s.guidance} min={1} max={15} step={0.5} onChange={(guidance) => set({ guidance })} format={(v) => v.toFixed(1)} testId="guidance" />
      <Slider label="Steps" value={s.steps} min={4} max={100} onChange={(steps) => set({ steps })} testId="steps" />
      <Slider label="Variations" value={s.variations} min={1} max={4} onChange={(variations) => set({ variations })} testId="variations" />
      <div className="row">
        <Checkbox checked={s.seedMode === 'fixed'} onChange={(fixed) => set({ seedMode: fixed ? 'fixed' : 'random' })} testId="fixed-seed">
          Fixed seed
        </Checkbox>
        {s.seedMode === 'fixed' ? <SeedField seed={s.seed} onSeed={(seed) => set({ seed })} /> : null}
      </div>
      <Picker
        label="Output size (long side)"
        options={LONG_SIDES.map((n) => ({ key: String(n), label: `${n} px` }))}
        selected={String(s.longSide)}
        onChange={(k) => set({ longSide: Number(k) })}
        testId="long-side"
      />
      <sp-detail data-testid="output-size">
        {props.outputSize ? `${props.outputSize.width} × ${props.outputSize.height}, shaped like the ${props.fromSelection ? 'selection' : 'document'}` : 'No document'}
      </sp-detail>
    </section>
  );
}
