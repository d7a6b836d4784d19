import type { ResultView } from '../session/panel-session';
import { Button } from './spectrum';

export function ResultsSection(props: { results: readonly ResultView[]; onReinsert: (id: string) => void; onReuseSeed: (id: string) => void }) {
  if (props.results.length === 0) return null;
  return (
    <section className="results" data-testid="results">
      <sp-heading size="XXS">This session’s results</sp-heading>
      <ul>
        {props.results.map((r) => (
          <li key={r.id} className="result" data-testid="result">
            <img src={r.thumbnailUrl} alt={`Result, seed ${r.seed}`} width={56} height={Math.max(1, Math.round((56 * r.height) / r.width))} />
            <div className="grow">
              <sp-body size="XS">{r.prompt}</sp-body>
              <sp-detail data-testid="result-seed">
                seed {r.seed} · {r.width}×{r.height}
                {r.inserted ? ' · in document' : ''}
              </sp-detail>
              <div className="row">
                <Button quiet variant="secondary" onPress={() => props.onReinsert(r.id)} disabled={!r.canReinsert} testId="reinsert" title={r.canReinsert ? 'Insert this result again' : 'No longer in memory: reuse its seed instead'}>
                  Insert again
                </Button>
                <Button quiet variant="secondary" onPress={() => props.onReuseSeed(r.id)} testId="reuse-seed">
                  Use seed
                </Button>
              </div>
            </div>
          </li>
        ))}
      </ul>
    </section>
  );
}
