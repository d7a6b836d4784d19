/**
 * scheduler_config.json, parsed once at the edge. Keys keep diffusers' spelling; each scheduler class
 * reads only its own __init__ keys (diffusers' from_config ignores the rest, so do we: SDXL's config
 * carries legacy DDIM keys that Euler never reads). Defaults are each class's __init__ defaults
 * (diffusers 0.40). A value we do not implement fails here, naming the key, the value and what works.
 */

import { z } from 'zod';
import { codedErrorClass } from '../../protocol';

export class SchedulerConfigError extends codedErrorClass('SchedulerConfigError', 'BAD_SCHEDULER_CONFIG') {}

const positiveInt = z.number().int().positive();
const betaSchedule = z.enum(['linear', 'scaled_linear', 'squaredcos_cap_v2']);
const spacing = z.enum(['linspace', 'leading', 'trailing']);
const trainedBetas = z.array(z.number()).nullable();

/** Keys every supported class shares, with a per-class default for spacing and beta range. */
function betaKeys(defaults: { spacing: z.infer<typeof spacing> }) {
  return {
    num_train_timesteps: positiveInt.min(2).default(1000),
    beta_start: z.number().positive().default(0.0001),
    beta_end: z.number().positive().default(0.02),
    beta_schedule: betaSchedule.default('linear'),
    trained_betas: trainedBetas.default(null),
    timestep_spacing: spacing.default(defaults.spacing),
    steps_offset: z.number().int().min(0).default(0),
    // supported only in its default: the zero-SNR rescale is not implemented
    rescale_betas_zero_snr: z.literal(false).default(false),
  };
}

export const EulerConfig = z
  .object({
    ...betaKeys({ spacing: 'linspace' }),
    prediction_type: z.enum(['epsilon', 'v_prediction', 'sample', 'original_sample']).default('epsilon'),
    interpolation_type: z.literal('linear').default('linear'),
    use_karras_sigmas: z.boolean().nullable().default(false),
    use_exponential_sigmas: z.literal(false).nullable().default(false),
    use_beta_sigmas: z.literal(false).nullable().default(false),
    sigma_min: z.number().positive().nullable().default(null),
    sigma_max: z.number().positive().nullable().default(null),
    timestep_type: z.literal('discrete').default('discrete'),
    final_sigmas_type: z.enum(['zero', 'sigma_min']).default('zero'),
  })
  .passthrough();
export type EulerConfig = z.infer<typeof EulerConfig>;

export const EulerAncestralConfig = z
  .object({
    ...betaKeys({ spacing: 'linspace' }),
    prediction_type: z.enum(['epsilon', 'v_prediction']).default('epsilon'),
  })
  .passthrough();
export type EulerAncestralConfig = z.infer<typeof EulerAncestralConfig>;

export const DpmSolverMultistepConfig = z
  .object({
    ...betaKeys({ spacing: 'linspace' }),
    solver_order: z.union([z.literal(1), z.literal(2)]).default(2),
    prediction_type: z.enum(['epsilon', 'v_prediction', 'sample']).default('epsilon'),
    thresholding: z.literal(false).default(false),
    algorithm_type: z.literal('dpmsolver++').default('dpmsolver++'),
    solver_type: z.enum(['midpoint', 'heun']).default('midpoint'),
    lower_order_final: z.boolean().default(true),
    euler_at_final: z.boolean().default(false),
    use_karras_sigmas: z.boolean().nullable().default(false),
    use_exponential_sigmas: z.literal(false).nullable().default(false),
    use_beta_sigmas: z.literal(false).nullable().default(false),
    use_lu_lambdas: z.literal(false).nullable().default(false),
    use_flow_sigmas: z.literal(false).nullable().default(false),
    sigma_min: z.number().positive().nullable().default(null),
    sigma_max: z.number().positive().nullable().default(null),
    final_sigmas_type: z.enum(['zero', 'sigma_min']).default('zero'),
    lambda_min_clipped: z.number().default(-Infinity),
    variance_type: z.null().default(null),
    use_dynamic_shifting: z.literal(false).default(false),
  })
  .passthrough();
export type DpmSolverMultistepConfig = z.infer<typeof DpmSolverMultistepConfig>;

export const DdimConfig = z
  .object({
    ...betaKeys({ spacing: 'leading' }),
    clip_sample: z.boolean().default(true),
    set_alpha_to_one: z.boolean().default(true),
    prediction_type: z.enum(['epsilon', 'v_prediction', 'sample']).default('epsilon'),
    thresholding: z.literal(false).default(false),
    clip_sample_range: z.number().positive().default(1.0),
  })
  .passthrough();
export type DdimConfig = z.infer<typeof DdimConfig>;

/** Parses `json` with `schema`; every problem is listed with its key, value and the accepted values. */
export function parseSchedulerConfig<S extends z.ZodType>(schema: S, json: unknown, source: string, className: string): z.infer<S> {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new SchedulerConfigError(`${source}: expected a JSON object, got ${Array.isArray(json) ? 'an array' : typeof json}`);
  }
  const result = schema.safeParse(json);
  if (result.success) return result.data;
  const record = json as Record<string, unknown>;
  const problems = result.error.issues.map((issue) => {
    const key = issue.path.map(String).join('.');
    const top = issue.path[0];
    const value = typeof top === 'string' ? JSON.stringify(record[top]) : '?';
    return `"${key}" = ${value}: ${issue.message}`;
  });
  throw new SchedulerConfigError(`${source}: not supported for ${className}: ${problems.join('; ')}`);
}
