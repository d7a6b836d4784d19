import { useEffect, useMemo, useRef, useSyncExternalStore } from 'react';
import { createRoot } from 'react-dom/client';
import type { CompanionClient } from './client/companion-client';
import type { Host } from './host/host';
import { PanelSession } from './session/panel-session';
import { Panel, type PanelActions } from './ui/Panel';

function App(props: { session: PanelSession }) {
  const { session } = props;
  const state = useSyncExternalStore((cb) => session.subscribe(cb), () => session.state);
  const actions = useMemo<PanelActions>(
    () => ({
      pair: (t) => void session.pair(t),
      forgetToken: () => void session.forgetToken(),
      refreshDocument: () => void session.refreshDocument(),
      update: (p) => session.update(p),
      generate: () => void session.generate(),
      cancel: () => session.cancel(),
      reinsert: (id) => void session.reinsert(id),
      reuseSeed: (id) => session.reuseSeed(id),
      dismissNotice: () => session.dismissNotice(),
      downloadModels: () => session.downloadModels(),
      selectModelSet: (id) => void session.selectModelSet(id),
      applyPreset: (name) => void session.applyPreset(name),
      savePreset: (name, overwrite) => session.savePreset(name, overwrite),
      deletePreset: (name) => void session.deletePreset(name),
    }),
    [session],
  );
  const wrapper = useRef<HTMLDivElement>(null);
  // Besides Photoshop's notifications (host.watchDocument), re-read the document when the user comes back to the panel.
  useEffect(() => {
    const el = wrapper.current;
    if (!el) return;
    const refresh = () => {
      if (!session.state.job) void session.refreshDocument();
    };
    el.addEventListener('pointerenter', refresh);
    el.addEventListener('focusin', refresh);
    return () => {
      el.removeEventListener('pointerenter', refresh);
      el.removeEventListener('focusin', refresh);
    };
  }, [session]);
  const limits = state.connection.kind === 'ready' ? state.connection.welcome.limits.maxImageSide : Infinity;
  return (
    <div ref={wrapper}>
      <Panel state={state} outputSize={session.outputSize(limits)} actions={actions} />
    </div>
  );
}

/** Mounts the panel for a host and a companion client; used by the UXP entry point and the e2e page. */
export function mountPanel(container: HTMLElement, host: Host, client: CompanionClient): { session: PanelSession; unmount: () => void } {
  const session = new PanelSession(host, client);
  const root = createRoot(container);
  root.render(<App session={session} />);
  void session.start();
  return {
    session,
    unmount: () => {
      session.stop();
      root.unmount();
    },
  };
}
