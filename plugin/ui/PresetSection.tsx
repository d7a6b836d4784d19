import { useState } from 'react';
import { presetNameProblem } from '../../protocol';
import type { PanelState } from '../session/panel-session';
import { Button, Picker, TextField, type PickerOption } from './spectrum';

const NONE = '';

/**
 * Style presets: the Preset picker applies one (open, choose: two clicks); "Save as preset…" opens a name field and
 * Save stores the style source, what to avoid and the options (two clicks and the name). Saving over an existing
 * preset says so on the button ("Replace"). The applied preset can be deleted: Delete, then Delete again to confirm.
 */
export function PresetSection(props: {
  presets: PanelState['presets'];
  presetSource: PanelState['presetSource'];
  busy: boolean;
  connected: boolean;
  onApply: (name: string) => void;
  onSave: (name: string, overwrite: boolean) => Promise<boolean>;
  onDelete: (name: string) => void;
}) {
  const [naming, setNaming] = useState(false);
  /** The preset a Delete click asks about; deleting needs a second click. */
  const [confirming, setConfirming] = useState<string | null>(null);
  const applied = props.presetSource?.name ?? null;
  const [name, setName] = useState('');
  const presets = props.presets ?? [];
  const options: PickerOption[] = [
    { key: NONE, label: presets.length > 0 ? 'Choose a preset…' : 'No presets saved yet' },
    ...presets.map((p) => ({ key: p.name, label: p.preset ? p.name : `${p.name} (unreadable)`, disabled: p.preset === undefined })),
  ];
  const trimmed = name.trim();
  const problem = trimmed === '' ? null : presetNameProblem(trimmed);
  const exists = presets.some((p) => p.name === trimmed);
  const save = () => {
    if (trimmed === '' || problem !== null) return;
    void props.onSave(trimmed, exists).then((saved) => {
      if (saved) {
        setNaming(false);
        setName('');
      }
    });
  };
  return (
    <section className="presets" data-testid="presets">
      <div className="row">
        <div className="grow">
          <Picker label="Preset" options={options} selected={props.presetSource?.name ?? NONE} disabled={!props.connected || props.busy}
            onChange={(key) => key !== NONE && props.onApply(key)} testId="preset" />
        </div>
        <Button variant="secondary" quiet onPress={() => setNaming(!naming)} disabled={!props.connected} testId="save-preset">
          Save as preset…
        </Button>
      </div>
      {applied !== null && confirming !== applied ? (
        <div className="row">
          <Button variant="secondary" quiet onPress={() => setConfirming(applied)} disabled={!props.connected || props.busy} testId="delete-preset">
            Delete preset “{applied}”…
          </Button>
        </div>
      ) : null}
      {confirming !== null && confirming === applied ? (
        <div className="row" data-testid="delete-preset-confirm">
          <sp-detail>Delete preset “{confirming}” from the companion?</sp-detail>
          <Button variant="warning" onPress={() => (props.onDelete(confirming), setConfirming(null))} disabled={props.busy} testId="delete-preset-yes">
            Delete
          </Button>
          <Button variant="secondary" quiet onPress={() => setConfirming(null)} testId="delete-preset-no">
            Keep
          </Button>
        </div>
      ) : null}
      {naming ? (
        <div className="row">
          <div className="grow">
            <TextField label="Preset name" value={name} placeholder="e.g. ink harbour series" onChange={setName} onEnter={save} testId="preset-name" />
            {problem !== null ? <sp-detail class="field-error" data-testid="preset-name-error">{problem}</sp-detail> : null}
          </div>
          <Button variant="primary" onPress={save} disabled={trimmed === '' || problem !== null || props.busy} testId="preset-save">
            {exists ? 'Replace' : 'Save'}
          </Button>
        </div>
      ) : null}
    </section>
  );
}
