import { DROP_ELEMENTS, type DropElement } from '../../protocol';
import type { DocumentState } from '../host/host';
import type { PresetSourceView } from '../session/panel-session';
import type { AvoidChoice, Settings } from '../session/settings';
import { Button, Checkbox, Picker, type PickerOption } from './spectrum';
import { layerOptions } from './layer-options';

const ACTIVE = 'active';
const PRESET = 'preset';
/** The elements SCFG can leave out of the reference (its negative made from the reference), as Avoid names them. */
const ELEMENT_NOUNS: Readonly<Record<DropElement, string>> = { colour: 'colours', texture: 'texture', brushwork: 'brushwork', lighting: 'lighting' };
const ELEMENT_CHECKBOX: Readonly<Record<DropElement, string>> = { colour: 'Colours', texture: 'Texture', brushwork: 'Brushwork', lighting: 'Lighting' };
const SEVERAL = 'drop-several';

/** "The reference’s colours", "… colours and lighting", "… colours, texture and lighting". */
function elementsLabel(elements: readonly DropElement[]): string {
  const nouns = elements.map((e) => ELEMENT_NOUNS[e]);
  const list = nouns.length === 1 ? nouns[0]! : `${nouns.slice(0, -1).join(', ')} and ${nouns[nouns.length - 1]!}`;
  return `The reference’s ${list}`;
}

export function SourceSection(props: {
  document: DocumentState;
  settings: Settings;
  /** An applied preset's reference image: the style source until a layer is picked. */
  presetSource?: PresetSourceView | null;
  onChange: (patch: Partial<Settings>) => void;
  onRefresh: () => void;
}) {
  const preset = props.presetSource ?? null;
  const { document: state, settings } = props;
  if (state.kind !== 'ready') {
    return (
      <section className="source" data-testid="source">
        <sp-body size="S" data-testid="document-problem">
          {state.kind === 'none' ? 'Open a document to take a style from one of its layers.' : state.reason}
        </sp-body>
        <Button quiet variant="secondary" onPress={props.onRefresh} testId="refresh">
          Check again
        </Button>
      </section>
    );
  }
  const doc = state.doc;
  const active = doc.layers.find((l) => l.id === doc.activeLayerId);
  const layers = layerOptions(doc);
  const sourceOptions: PickerOption[] = [
    ...(preset ? [{ key: PRESET, label: `Preset “${preset.name}” reference` }] : []),
    { key: ACTIVE, label: `Active layer${active ? ` (${active.name})` : ''}` }, ...layers,
  ];
  const avoid = settings.avoid;
  const leftOut = avoid.kind === 'drop' ? avoid.elements : [];
  const avoidKey = avoid.kind !== 'drop' ? avoid.kind : leftOut.length === 1 ? `drop-${leftOut[0]!}` : SEVERAL;
  const avoidOptions: PickerOption[] = [
    { key: 'none', label: 'Nothing' },
    { key: 'layer', label: 'The style of a layer…' },
    ...DROP_ELEMENTS.map((element) => ({ key: `drop-${element}`, label: elementsLabel([element]) })),
    ...(leftOut.length > 1 ? [{ key: SEVERAL, label: elementsLabel(leftOut) }] : []),
  ];
  const onAvoid = (key: string) => {
    if (key === SEVERAL) return;
    const element = DROP_ELEMENTS.find((e) => key === `drop-${e}`);
    const choice: AvoidChoice = key === 'layer' ? { kind: 'layer', layerId: null } : element !== undefined ? { kind: 'drop', elements: [element] } : { kind: 'none' };
    props.onChange({ avoid: choice });
  };
  // one more element is one more click; the last one stays (Avoid: Nothing turns it off)
  const toggleElement = (element: DropElement, on: boolean) =>
    props.onChange({ avoid: { kind: 'drop', elements: DROP_ELEMENTS.filter((e) => (e === element ? on : leftOut.includes(e))) } });
  return (
    <section className="source" data-testid="source">
      <sp-heading size="XXS">Style from · {doc.title}</sp-heading>
      <Picker
        label="Style layer"
        options={sourceOptions}
        selected={preset ? PRESET : settings.sourceLayerId === null ? ACTIVE : String(settings.sourceLayerId)}
        onChange={(key) => key !== PRESET && props.onChange({ sourceLayerId: key === ACTIVE ? null : Number(key) })}
        testId="source-layer"
      />
      {preset ? (
        <div className="row preset-source" data-testid="preset-source">
          <img src={preset.thumbnailUrl} alt={`Reference of preset ${preset.name}`} height={40} />
          <sp-detail>Style from preset “{preset.name}”{preset.negative ? ', avoiding its negative image' : ''}; pick a layer to use a layer again</sp-detail>
        </div>
      ) : null}
      <Checkbox checked={settings.selectionOnly} onChange={(selectionOnly) => props.onChange({ selectionOnly })} disabled={!doc.selection} testId="selection-only">
        Only the selected area{doc.selection ? '' : ' (no selection)'}
      </Checkbox>
      <Picker label="Avoid" options={avoidOptions} selected={avoidKey} onChange={onAvoid} testId="avoid" />
      {avoid.kind === 'drop' ? (
        <div className="row leave-out" data-testid="leave-out">
          <sp-detail>Leave out:</sp-detail>
          {DROP_ELEMENTS.map((element) => (
            <Checkbox
              key={element}
              checked={leftOut.includes(element)}
              disabled={leftOut.length === 1 && leftOut[0] === element}
              onChange={(on) => toggleElement(element, on)}
              testId={`leave-out-${element}`}
            >
              {ELEMENT_CHECKBOX[element]}
            </Checkbox>
          ))}
        </div>
      ) : null}
      {settings.avoid.kind === 'layer' ? (
        <Picker
          label="Layer whose style to avoid"
          options={[{ key: 'unset', label: 'Choose a layer…' }, ...layers]}
          selected={settings.avoid.layerId === null ? 'unset' : String(settings.avoid.layerId)}
          onChange={(key) => props.onChange({ avoid: { kind: 'layer', layerId: key === 'unset' ? null : Number(key) } })}
          testId="avoid-layer"
        />
      ) : null}
    </section>
  );
}
