import { useEffect, useRef } from 'react';
import type { PanelState } from '../session/panel-session';
import type { Settings } from '../session/settings';
import { ConnectionSection } from './ConnectionSection';
import { JobSection } from './JobSection';
import { OptionsSection, PromptSection } from './OptionsSection';
import { PresetSection } from './PresetSection';
import { ResultsSection } from './ResultsSection';
import { MoreAvoidLayers } from './MoreAvoidLayers';
import { MoreReferences } from './MoreReferences';
import { RestyleSection } from './RestyleSection';
import { SelectionOption } from './SelectionOption';
import { SourceSection } from './SourceSection';
import { Button } from './spectrum';

export interface PanelActions {
  pair(token: string): void;
  forgetToken(): void;
  refreshDocument(): void;
  update(patch: Partial<Settings>): void;
  generate(): void;
  cancel(): void;
  reinsert(resultId: string): void;
  reuseSeed(resultId: string): void;
  dismissNotice(): void;
  downloadModels(): void;
  selectModelSet(id: string): void;
  applyPreset(name: string): void;
  /** Resolves with whether the preset was saved. */
  savePreset(name: string, overwrite: boolean): Promise<boolean>;
  deletePreset(name: string): void;
}

export function Panel(props: { state: PanelState; outputSize: { width: number; height: number } | null; actions: PanelActions }) {
  const { state, actions } = props;
  const root = useRef<HTMLDivElement>(null);
  const latest = useRef(props);
  latest.current = props;
  // Keyboard: Ctrl/⌘+Enter generates from anywhere in the panel, Esc cancels the running job.
  useEffect(() => {
    const el = root.current;
    if (!el) return;
    const onKey = (ev: KeyboardEvent) => {
      const { state: s, actions: a } = latest.current;
      if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey) && !s.job) {
        ev.preventDefault();
        a.generate();
      } else if (ev.key === 'Escape' && s.job) {
        ev.preventDefault();
        a.cancel();
      }
    };
    el.addEventListener('keydown', onKey);
    return () => el.removeEventListener('keydown', onKey);
  }, []);
  const ready = state.connection.kind === 'ready' && state.connection.welcome.engine.ready;
  const canGenerate = ready && state.document.kind === 'ready' && state.settings.prompt.trim().length > 0;
  const fromSelection = state.document.kind === 'ready' && state.document.doc.selection !== null;
  return (
    <div className="panel" ref={root} data-testid="panel">
      <ConnectionSection
        connection={state.connection}
        hasToken={state.hasToken}
        download={state.download}
        modelSets={state.modelSets}
        switchingSet={state.switchingSet}
        busy={state.job !== null}
        onSelectModelSet={actions.selectModelSet}
        onPair={actions.pair}
        onForget={actions.forgetToken}
        onDownload={actions.downloadModels}
      />
      <sp-divider size="small" />
      <PresetSection presets={state.presets} presetSource={state.presetSource} busy={state.presetBusy || state.job !== null}
        connected={state.connection.kind === 'ready'} onApply={actions.applyPreset} onSave={actions.savePreset}
        onDelete={actions.deletePreset} />
      <SourceSection document={state.document} settings={state.settings} presetSource={state.presetSource} onChange={actions.update} onRefresh={actions.refreshDocument} />
      <MoreAvoidLayers document={state.document} settings={state.settings} onChange={actions.update} />
      <MoreReferences document={state.document} settings={state.settings} presetApplied={state.presetSource !== null} onChange={actions.update} />
      <RestyleSection document={state.document} settings={state.settings} onChange={actions.update} />
      <PromptSection settings={state.settings} onChange={actions.update} />
      <SelectionOption document={state.document} maskToSelection={state.settings.maskToSelection} onChange={(maskToSelection) => actions.update({ maskToSelection })} />
      <OptionsSection settings={state.settings} outputSize={props.outputSize} fromSelection={fromSelection} onChange={actions.update} />
      {state.notice ? (
        <div className={`notice notice-${state.notice.kind}`} role={state.notice.kind === 'error' ? 'alert' : 'status'} data-testid="notice">
          <sp-body size="S">{state.notice.text}</sp-body>
          <Button quiet variant="secondary" onPress={actions.dismissNotice} testId="dismiss">
            Dismiss
          </Button>
        </div>
      ) : null}
      <JobSection job={state.job} canGenerate={canGenerate} onGenerate={actions.generate} onCancel={actions.cancel} />
      <ResultsSection results={state.results} onReinsert={actions.reinsert} onReuseSeed={actions.reuseSeed} />
    </div>
  );
}
