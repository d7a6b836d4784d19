/**
 * Checks a written set with the project's own readers, without reading tensor data: the hub cache reader
 * (model-catalog, what `models list` and `serve` use) finds every model, every safetensors header
 * (weights/safetensors.ts) and the torch archive (weights/torch-bin.ts) list exactly the planned tensors
 * (names, shapes, dtypes, order), and the adapter opens as CSGO (models/adapter.ts).
 */
import * as path from 'node:path';
import { openStyleAdapter } from '../../companion/models/adapter';
import { modelStatus } from '../../companion/weights/model-catalog';
import { RepoCache } from '../../companion/weights/hub-layout';
import { readSafetensors } from '../../companion/weights/safetensors';
import { readTorchBin } from '../../companion/weights/torch-bin';
import type { TensorSpec } from './content';
import type { PlannedModel } from './plan';

export interface VerifyReport {
  readonly problems: string[];
  readonly checkedFiles: number;
  readonly tensors: number;
}

function sameTensors(want: readonly TensorSpec[], got: readonly TensorSpec[], where: string, problems: string[]): void {
  if (want.length !== got.length) problems.push(`${where}: ${got.length} tensors, planned ${want.length}`);
  for (let i = 0; i < Math.min(want.length, got.length); i++) {
    const w = want[i] as TensorSpec;
    const g = got[i] as TensorSpec;
    if (w.key !== g.key || w.dtype !== g.dtype || w.shape.join(',') !== g.shape.join(',')) {
      problems.push(`${where}: tensor ${i} is ${g.key} ${g.dtype} [${g.shape.join(', ')}], planned ${w.key} ${w.dtype} [${w.shape.join(', ')}]`);
      return;
    }
  }
}

export function verifySet(cacheDir: string, models: readonly PlannedModel[]): VerifyReport {
  const problems: string[] = [];
  let checkedFiles = 0;
  let tensors = 0;
  for (const model of models) {
    const status = modelStatus(cacheDir, model.spec);
    if (!status.present || !status.snapshotDir) {
      problems.push(`${model.spec.id}: not present in the hub cache (missing ${status.missingFiles.join(', ')})`);
      continue;
    }
    const commit = new RepoCache(cacheDir, model.spec.repo).resolveRevision(model.spec.revision);
    if (commit !== model.commit) problems.push(`${model.spec.id}: refs/${model.spec.revision} is ${commit}, planned ${model.commit}`);
    for (const file of model.files) {
      const p = path.join(status.snapshotDir, ...file.path.split('/'));
      const planned = file.tensors;
      checkedFiles++;
      if (!planned) continue;
      try {
        if (file.path.endsWith('.safetensors')) {
          const st = readSafetensors(p);
          if (st.size !== file.content.size) problems.push(`${model.spec.id}/${file.path}: ${st.size} bytes, planned ${file.content.size}`);
          sameTensors(planned, [...st.tensors.values()], `${model.spec.id}/${file.path}`, problems);
          tensors += st.tensors.size;
        } else if (file.path.endsWith('.bin')) {
          const bin = readTorchBin(p);
          sameTensors(planned, [...bin.tensors.values()], `${model.spec.id}/${file.path}`, problems);
          if (bin.otherValues.size > 0) problems.push(`${model.spec.id}/${file.path}: non-tensor values ${[...bin.otherValues.keys()].join(', ')}`);
          tensors += bin.tensors.size;
          const crossDim = bin.tensors.get('style_image_proj.proj_out.weight')?.shape[0];
          if (crossDim !== undefined) {
            const adapter = openStyleAdapter(p, crossDim);
            if (adapter.kind !== 'csgo') problems.push(`${model.spec.id}/${file.path}: opens as ${adapter.kind}, not csgo`);
          }
        }
      } catch (err) {
        problems.push(`${model.spec.id}/${file.path}: ${(err as Error).message}`);
      }
    }
  }
  return { problems, checkedFiles, tensors };
}
