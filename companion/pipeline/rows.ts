/**
 * Which rows the UNet batch holds at a given step, and the small per-row inputs that drive the
 * StyleStudio hooks inside the one UNet graph (METHOD.md §3, ARCHITECTURE.md "The engine").
 *
 * With the teacher the batch is the official order [uncond-teacher, uncond-student, cond-teacher,
 * cond-student]; teacher rows are selected by an explicit mask, never by batch size. While sharing,
 * every attn1 takes Q and K of row `gather[r]` (student rows point at their teacher). After
 * `teacherSteps` the teacher can no longer influence the student, so its rows are dropped.
 */

export interface RowPlan {
  /** Number of UNet rows this step. */
  readonly rows: number;
  /** 1 for rows that must see text only in every style layer (the teacher), else 0. */
  readonly teacherMask: Float32Array;
  /** Row whose Q and K each row's self-attention uses; identity = ordinary attention. */
  readonly gatherIndex: BigInt64Array;
  /** Index of the unconditional and conditional student rows in this batch. */
  readonly uncondStudent: number;
  readonly condStudent: number;
  /** Teacher rows, present only while the teacher runs. */
  readonly teacher: { readonly uncond: number; readonly cond: number } | null;
}

const STUDENT_ONLY: RowPlan = Object.freeze({
  rows: 2,
  teacherMask: new Float32Array([0, 0]),
  gatherIndex: BigInt64Array.from([0n, 1n]),
  uncondStudent: 0,
  condStudent: 1,
  teacher: null,
});

const WITH_TEACHER: RowPlan = Object.freeze({
  rows: 4,
  teacherMask: new Float32Array([1, 0, 1, 0]),
  gatherIndex: BigInt64Array.from([0n, 0n, 2n, 2n]),
  uncondStudent: 1,
  condStudent: 3,
  teacher: { uncond: 0, cond: 2 },
});

/**
 * The row plan for step `i` (0-based) of a run. `teacherSteps` counts 1-based inclusive steps, as
 * the reference's `denoise_step <= end_fusion`; null or 0 switches the teacher off.
 */
export function rowPlan(i: number, teacherSteps: number | null): RowPlan {
  if (!Number.isInteger(i) || i < 0) throw new RangeError(`step index must be a non-negative integer, got ${i}`);
  return teacherSteps !== null && i < teacherSteps ? WITH_TEACHER : STUDENT_ONLY;
}

/** UNet row-evaluations of a whole run: 4·T + 2·(S − T) with the teacher (the reference does 4·S). */
export function unetRowEvaluations(steps: number, teacherSteps: number | null): number {
  const t = teacherSteps === null ? 0 : Math.min(teacherSteps, steps);
  return 4 * t + 2 * (steps - t);
}
