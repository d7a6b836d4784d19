import { rowPlan, unetRowEvaluations } from '../../../companion/pipeline/rows';
import { classifierFreeGuidance } from '../../../companion/pipeline/guidance';
import { checkImageSize, sdxlTimeIds } from '../../../companion/pipeline/size';

describe('row plan', () => {
  test('teacher rows in the official order while sharing, dropped after teacherSteps', () => {
    const p0 = rowPlan(0, 2);
    expect(p0.rows).toBe(4);
    expect(Array.from(p0.teacherMask)).toEqual([1, 0, 1, 0]);
    expect(Array.from(p0.gatherIndex)).toEqual([0n, 0n, 2n, 2n]);
    expect([p0.uncondStudent, p0.condStudent]).toEqual([1, 3]);
    expect(rowPlan(1, 2).rows).toBe(4); // step 2 of teacherSteps 2: 1-based inclusive
    const p2 = rowPlan(2, 2);
    expect(p2.rows).toBe(2);
    expect(Array.from(p2.gatherIndex)).toEqual([0n, 1n]);
    expect(p2.teacher).toBeNull();
    expect(rowPlan(0, null).rows).toBe(2);
    expect(rowPlan(0, 0).rows).toBe(2);
  });

  test('row evaluations: 140 at 50 steps with teacherSteps 20 (the reference does 200)', () => {
    expect(unetRowEvaluations(50, 20)).toBe(140);
    expect(unetRowEvaluations(50, null)).toBe(100);
    expect(unetRowEvaluations(50, 50)).toBe(200);
    expect(unetRowEvaluations(5, 80)).toBe(20);
  });

  test('rejects a bad step index', () => {
    expect(() => rowPlan(-1, 2)).toThrow(/non-negative integer/);
  });
});

describe('guidance and size', () => {
  test('CFG combines the named rows in float32', () => {
    const batch = new Float32Array([1, 2, /* row1 */ 0, 0, /* row2 */ 3, 6, /* row3 */ 5, 5]);
    expect(Array.from(classifierFreeGuidance(batch, 2, 0, 2, 5))).toEqual([11, 22]);
    expect(Array.from(classifierFreeGuidance(batch, 2, 1, 3, 1))).toEqual([5, 5]);
    expect(() => classifierFreeGuidance(batch, 2, 1, 4, 5)).toThrow(/exceed/);
  });

  test('size checks name the fix', () => {
    expect(() => checkImageSize(1000, 1024, 64, 2048)).toThrow(/width 1000 is not a multiple of 64; try 960 or 1024/);
    expect(() => checkImageSize(1024, 0, 64, 2048)).toThrow(/height must be a positive integer/);
    expect(() => checkImageSize(4096, 1024, 64, 2048)).toThrow(/exceeds the maximum of 2048/);
    expect(() => checkImageSize(1024, 768, 64, 2048)).not.toThrow();
    expect(Array.from(sdxlTimeIds(832, 1216))).toEqual([1216, 832, 0, 0, 1216, 832]);
  });
});
