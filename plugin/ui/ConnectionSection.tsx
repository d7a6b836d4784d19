import { useState } from 'react';
import type { ConnectionState } from '../client/companion-client';
import { connectionText } from './connection-text';
import { Button, TextField } from './spectrum';

export function ConnectionSection(props: {
  connection: ConnectionState;
  hasToken: boolean;
  onPair: (token: string) => void;
  onForget: () => void;
}) {
  const [token, setToken] = useState('');
  const [changing, setChanging] = useState(false);
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
      {askToken ? (
        <div className="row">
          <div className="grow">
            <TextField label="Pairing token" type="password" value={token} onChange={setToken} onEnter={submit} placeholder="paste the token" testId="token" />
          </div>
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
