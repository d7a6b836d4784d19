import type { DocumentState } from '../host/host';
import { SPEC_LIMITS } from '../../protocol';
import type { Settings } from '../session/settings';
import { Button, percent, Picker, Slider } from './spectrum';
import { layerOptions, nextUnusedLayer } from './layer-options';

const UNSET = 'unset';

/**
 * Several style references: "Add reference" (one click) adds the next layer not yet used, each with a layer picker,
 * a weight and Remove; the style layer's own weight shows once there are several. Weights are relative: an image of
 * weight w counts w times (docs/PROTOCOL.md). Hidden while a preset's references are the style source.
 */
export function MoreReferences(props: { document: DocumentState; settings: Settings; presetApplied: boolean; onChange: (patch: Partial<Settings>) => void }) {
  const { document: state, settings } = props;
  if (state.kind !== 'ready' || props.presetApplied) return null;
  const doc = state.doc;
  const more = settings.moreStyles;
  const layers = layerOptions(doc);
  const set = (i: number, patch: Partial<Settings['moreStyles'][number]>) =>
    props.onChange({ moreStyles: more.map((m, k) => (k === i ? { ...m, ...patch } : m)) });
  const add = () => {
    const used = new Set([settings.sourceLayerId ?? doc.activeLayerId, ...more.map((m) => m.layerId)]);
    props.onChange({ moreStyles: [...more, { layerId: nextUnusedLayer(doc, used), weight: 1 }] });
  };
  return (
    <section className="more-references" data-testid="more-references">
      {more.length > 0 ? (
        <Slider label="Style layer weight" value={settings.styleWeight} min={0} max={1} step={0.05} onChange={(styleWeight) => props.onChange({ styleWeight })} format={percent} testId="style-weight" />
      ) : null}
      {more.map((m, i) => (
        <div className="reference" key={i} data-testid="reference">
          <Picker
            label={`Reference ${i + 2}`}
            options={[{ key: UNSET, label: 'Choose a layer…' }, ...layers]}
            selected={m.layerId === null ? UNSET : String(m.layerId)}
            onChange={(key) => set(i, { layerId: key === UNSET ? null : Number(key) })}
            testId="reference-layer"
          />
          <Slider label="Weight" value={m.weight} min={0} max={1} step={0.05} onChange={(weight) => set(i, { weight })} format={percent} testId="reference-weight" />
          <Button quiet variant="secondary" onPress={() => props.onChange({ moreStyles: more.filter((_, k) => k !== i) })} testId="remove-reference">
            Remove
          </Button>
        </div>
      ))}
      {more.length < SPEC_LIMITS.references - 1 ? (
        <Button quiet variant="secondary" onPress={add} testId="add-reference">
          + Add reference
        </Button>
      ) : null}
    </section>
  );
}
