import type { JobView } from '../session/panel-session';
import { Button, ProgressBar } from './spectrum';

const PHASE_LABEL: Record<JobView['phase'], string> = {
  reading: 'Reading the style layer…',
  uploading: 'Sending the style to the companion…',
  queued: 'Waiting in the queue…',
  running: 'Generating…',
  inserting: 'Adding layers…',
};

export function JobSection(props: { job: JobView | null; canGenerate: boolean; onGenerate: () => void; onCancel: () => void }) {
  const job = props.job;
  if (!job) {
    return (
      <section className="job" data-testid="job">
        <Button variant="cta" onPress={props.onGenerate} disabled={!props.canGenerate} testId="generate" title="Generate (Ctrl/⌘+Enter)">
          Generate
        </Button>
      </section>
    );
  }
  const label = job.cancelling ? 'Cancelling…' : job.phase === 'queued' ? `Waiting in the queue (${job.position} ahead)…`
    : job.stage !== null && job.phase === 'running' ? `${job.stage[0]!.toUpperCase()}${job.stage.slice(1)}…` : PHASE_LABEL[job.phase];
  return (
    <section className="job" data-testid="job">
      <ProgressBar label={label} value={job.step} max={Math.max(1, job.total)} testId="progress" />
      <sp-detail data-testid="job-status">
        {label} {job.total > 0 ? `step ${job.step} of ${job.total}` : ''} {job.received > 0 ? `· ${job.received}/${job.variations} done` : ''}
      </sp-detail>
      {job.previewUrl ? <img className="preview" src={job.previewUrl} alt="Live preview" data-testid="preview" width={128} height={128} /> : null}
      <Button variant="warning" onPress={props.onCancel} disabled={job.cancelling || job.phase === 'inserting'} testId="cancel" title="Cancel (Esc)">
        Cancel
      </Button>
    </section>
  );
}
