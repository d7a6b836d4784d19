import { useState } from 'react';
import type { ConnectionState } from '../client/companion-client';
import type { PanelState } from '../session/panel-session';
import { connectionText } from './connection-text';
import { Button, Picker, ProgressBar, TextField } from './spectrum';

function gigabytes(bytes: number): string {
  return `${(bytes / 1e9).toFixed(1)} GB`;
}

/** Offers the companion's model download when its engine is waiting for models, and shows its progress. */
function ModelsDownload(props: { connection: ConnectionState; download: PanelState['download']; onDownload: () => void }) {
  const d = props.download;
  if (d) {
    return d.started ? (
      <ProgressBar label={`Downloading ${d.model}: ${d.file}`} value={Math.round(d.receivedBytes / 1e6)} max={Math.max(1, Math.round(d.totalBytes / 1e6))} testId="download-progress" />
    ) : (
      <sp-detail data-testid="download-progress">Starting the download…</sp-detail>
    );
  }
  if (props.connection.kind !== 'ready' || props.connection.welcome.engine.ready) return null;
  const missing = props.connection.welcome.models.filter((m) => !m.present);
  if (missing.length === 0) return null;
  const bytes = missing.reduce((sum, m) => sum + m.missingBytes, 0);
  return (
    <Button variant="primary" onPress={props.onDownload} testId="download-models" title={missing.map((m) => m.id).join(', ')}>
      Download models (about {gigabytes(bytes)})
    </Button>
  );
}

/** The companion's model sets (its default set, checkpoints under its model roots), shown when there is a choice. */
function ModelSetPicker(props: { modelSets: PanelState['modelSets']; switching: boolean; busy: boolean; onSelect: (id: string) => void }) {
  const sets = props.modelSets;
  if (sets === null || sets.sets.length < 2) return null;
  return (
    <Picker
      label="Model"
      options={sets.sets.map((s) => ({ key: s.id, label: s.usable ? s.name : `${s.name} (cannot be used: ${s.reason ?? 'unreadable'})`, disabled: !s.usable }))}
      selected={sets.current}
      onChange={props.onSelect}
      disabled={props.switching || props.busy}
      testId="model-set"
    />
  );
}

export function ConnectionSection(props: {
  connection: ConnectionState;
  hasToken: boolean;
  download: PanelState['download'];
  modelSets: PanelState['modelSets'];
  switchingSet: boolean;
  /** A job is running: the companion refuses to switch sets then. */
  busy: boolean;
  onPair: (token: string) => void;
  onForget: () => void;
  onDownload: () => void;
  onSelectModelSet: (id: string) => void;
}) {
  const [token, setToken] = useState('');
  const [changing, setChanging] = useState(false);
  // A plain text field: UXP's type=password field cannot be read on macOS. Hiding shows a masked summary instead.
  const [hidden, setHidden] = useState(false);
  const text = connectionText(props.connection);
  const askToken = text.askToken || changing;
  const submit = () => {
    if (!token.trim()) return;
    props.onPair(token);
    setToken('');
    setChanging(false);
  };
  return (
    <section className={`connection tone-${text.tone}`} data-testid="connection" aria-live="polite">
      <div className="row">
        <span className={`dot dot-${text.tone}`} aria-hidden="true" />
        <sp-heading size="XXS" data-testid="connection-title">{text.title}</sp-heading>
      </div>
      <sp-body size="S" data-testid="connection-detail">{text.detail}</sp-body>
      {props.connection.kind === 'ready' ? (
        <ModelSetPicker modelSets={props.modelSets} switching={props.switchingSet} busy={props.busy} onSelect={props.onSelectModelSet} />
      ) : null}
      <ModelsDownload connection={props.connection} download={props.download} onDownload={props.onDownload} />
      {askToken ? (
        <div className="row">
          <div className="grow">
            {hidden && token ? (
              <sp-body size="S" data-testid="token-masked">{'•'.repeat(Math.min(12, token.trim().length))} ({token.trim().length} characters)</sp-body>
            ) : (
              <TextField label="Pairing token" type="text" value={token} onChange={setToken} onEnter={submit} placeholder="paste the token" testId="token" />
            )}
          </div>
          <Button quiet variant="secondary" onPress={() => setHidden(!hidden)} disabled={!token} testId="token-visibility">
            {hidden ? 'Show' : 'Hide'}
          </Button>
          <Button onPress={submit} disabled={!token.trim()} testId="pair">
            Pair
          </Button>
        </div>
      ) : props.hasToken ? (
        <div className="row">
          <Button quiet variant="secondary" onPress={() => setChanging(true)} testId="change-token">
            Change token
          </Button>
          <Button quiet variant="secondary" onPress={props.onForget} testId="forget-token">
            Forget token
          </Button>
        </div>
      ) : null}
    </section>
  );
}
