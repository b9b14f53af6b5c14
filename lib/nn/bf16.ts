/**
 * bf16 on the host: a bf16 tensor holds raw bit patterns in a Uint16Array (the upper half of an
 * f32). These convert with the GPU's rounding (round to nearest even, NaN kept quiet).
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** One f32 value as bf16 bits. */
export function toBf16Bits(x: number): number {
  f32[0] = x;
  const u = u32[0];
  if ((u & 0x7f800000) === 0x7f800000 && (u & 0x007fffff) !== 0) return ((u >>> 16) | 0x40) & 0xffff;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** bf16 bits as a number. */
export function fromBf16Bits(b: number): number {
  u32[0] = (b & 0xffff) << 16;
  return f32[0];
}

/** An f32 array rounded to bf16 bits (for era.tensor(bits, shape, { dtype: 'bf16' })). */
export function f32ToBf16(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = toBf16Bits(values[i]);
  return out;
}

/** bf16 bits widened to f32 (exact). */
export function bf16ToF32(bits: ArrayLike<number>): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = fromBf16Bits(bits[i]);
  return out;
}
