/**
 * Errors thrown by era-cuda. Argument problems are plain TypeError/RangeError whose message names
 * the argument (`Expected <what> for <name> but received <value>`); everything else is an EraError
 * with a stable `code`.
 */
export type EraErrorCode =
  | 'ERA_DISPOSED'
  | 'ERA_CUDA_ERROR'
  | 'ERA_OUT_OF_MEMORY'
  | 'ERA_NO_DEVICE'
  | 'ERA_LOAD_FAILED'
  | 'ERA_INTERNAL'
  | 'ERA_INVALID_TYPE'
  | 'ERA_INVALID_VALUE';

export class EraError extends Error {
  readonly code: EraErrorCode;

  constructor(message: string, code: EraErrorCode = 'ERA_INTERNAL') {
    super(message);
    this.name = 'EraError';
    this.code = code;
  }
}
