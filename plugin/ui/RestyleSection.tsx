import type { DocumentState } from '../host/host';
import type { Settings } from '../session/settings';
import { Checkbox, percent, Picker, type PickerOption, Slider } from './spectrum';
import { layerOptions } from './layer-options';

const NOTHING = 'nothing';

/**
 * img2img: which layer to restyle (its pixels over the results' region become the starting image) and how much of it
 * changes. "Nothing" generates a new image from noise, as before.
 */
export function RestyleSection(props: { document: DocumentState; settings: Settings; onChange: (patch: Partial<Settings>) => void }) {
  const { document: state, settings } = props;
  if (state.kind !== 'ready') return null;
  const options: PickerOption[] = [
    { key: NOTHING, label: 'Nothing (a new image)' },
    ...layerOptions(state.doc),
  ];
  const chosen = settings.restyleLayerId !== null && state.doc.layers.some((l) => l.id === settings.restyleLayerId);
  // inpainting redraws inside the selection captured for the mask (the rest keeps the layer's pixels)
  const canInpaint = state.doc.selection !== null && settings.maskToSelection;
  return (
    <section className="restyle" data-testid="restyle">
      <Picker
        label="Restyle layer"
        options={options}
        selected={chosen ? String(settings.restyleLayerId) : NOTHING}
        onChange={(key) => props.onChange({ restyleLayerId: key === NOTHING ? null : Number(key) })}
        testId="restyle-layer"
      />
      {chosen ? (
        <Slider
          label="Change"
          value={settings.denoise}
          min={0.05}
          max={1}
          step={0.05}
          onChange={(denoise) => props.onChange({ denoise })}
          format={percent}
          testId="denoise"
        />
      ) : null}
      {chosen ? (
        <Checkbox
          checked={settings.inpaint && canInpaint}
          disabled={!canInpaint}
          onChange={(inpaint) => props.onChange({ inpaint })}
          testId="inpaint"
        >
          Only inside the selection{canInpaint ? '' : ' (needs a selection and “Mask to selection”)'}
        </Checkbox>
      ) : null}
    </section>
  );
}
