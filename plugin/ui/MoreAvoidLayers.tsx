import type { DocumentState } from '../host/host';
import { SPEC_LIMITS } from '../../protocol';
import type { Settings } from '../session/settings';
import { Button, Picker, type PickerOption } from './spectrum';
import { layerOptions, nextUnusedLayer } from './layer-options';

const UNSET = 'unset';

/**
 * With "Avoid: the style of a layer", more layers to avoid: "+ Another layer to avoid" (one click) adds the next layer
 * not yet used, each with a picker and Remove. They fill the unconditional side slot by slot, beside the references.
 */
export function MoreAvoidLayers(props: { document: DocumentState; settings: Settings; onChange: (patch: Partial<Settings>) => void }) {
  const { document: state, settings } = props;
  if (state.kind !== 'ready' || settings.avoid.kind !== 'layer') return null;
  const doc = state.doc;
  const more = settings.moreAvoidLayerIds;
  const options: PickerOption[] = [
    { key: UNSET, label: 'Choose a layer…' },
    ...layerOptions(doc),
  ];
  const add = () => {
    const used = new Set([settings.avoid.kind === 'layer' ? settings.avoid.layerId : null, ...more]);
    props.onChange({ moreAvoidLayerIds: [...more, nextUnusedLayer(doc, used)] });
  };
  return (
    <section className="more-avoid" data-testid="more-avoid">
      {more.map((layerId, i) => (
        <div className="reference" key={i} data-testid="avoid-more">
          <Picker
            label={`Also avoid ${i + 2}`}
            options={options}
            selected={layerId === null ? UNSET : String(layerId)}
            onChange={(key) => props.onChange({ moreAvoidLayerIds: more.map((m, k) => (k === i ? (key === UNSET ? null : Number(key)) : m)) })}
            testId="avoid-more-layer"
          />
          <Button quiet variant="secondary" onPress={() => props.onChange({ moreAvoidLayerIds: more.filter((_, k) => k !== i) })} testId="remove-avoid">
            Remove
          </Button>
        </div>
      ))}
      {more.length < SPEC_LIMITS.references - 1 ? (
        <Button quiet variant="secondary" onPress={add} testId="add-avoid">
          + Another layer to avoid
        </Button>
      ) : null}
    </section>
  );
}
