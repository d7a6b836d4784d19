import type { DocumentState } from '../host/host';
import { Checkbox } from './spectrum';

/** "Mask to selection": with a selection, results cover its box and are masked to its shape (one click to turn off). */
export function SelectionOption(props: { document: DocumentState; maskToSelection: boolean; onChange: (maskToSelection: boolean) => void }) {
  if (props.document.kind !== 'ready') return null;
  const hasSelection = props.document.doc.selection !== null;
  return (
    <Checkbox checked={props.maskToSelection} onChange={props.onChange} disabled={!hasSelection} testId="mask-to-selection">
      Mask to selection{hasSelection ? '' : ' (no selection)'}
    </Checkbox>
  );
}
