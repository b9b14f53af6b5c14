/**
 * Initial-state randomisation shared by the tasks, following dm_control's
 * randomize_limited_and_rotational_joints:
 * - limited hinge and slide joints: uniform in their range;
 * - unlimited hinges: uniform in [-π, π);
 * - unlimited ball joints: a uniformly random unit quaternion (normalised Gaussian 4-vector);
 *   limited ball joints: a random axis turned by a uniform angle in [0, range max];
 * - free joints: position kept, orientation the normalised vector of four U[0,1) draws (as
 *   dm_control's code does, so only quaternions with non-negative components occur);
 * - unlimited slides: left alone.
 * "Limited" is read as range[0] < range[1] (the bindings cannot read jnt_limited, and MJCF's
 * autolimits makes a joint limited exactly when it has a range).
 */
import type { Physics } from '../physics.js';
import type { Rng } from '../rng.js';

const FREE = 0;
const BALL = 1;
const SLIDE = 2;
const HINGE = 3;

function normalize4(q: Float64Array, a: number): void {
  const n = Math.hypot(q[a], q[a + 1], q[a + 2], q[a + 3]);
  if (n === 0) {
    q[a] = 1;
    return;
  }
  for (let k = 0; k < 4; k++) q[a + k] /= n;
}

export function randomizeJoints(physics: Physics, rng: Rng, filter: 'limited' | 'limited-and-rotational' = 'limited-and-rotational'): void {
  const type = physics.modelArray<Int32Array>('jnt_type');
  const range = physics.modelArray('jnt_range');
  const adr = physics.modelArray<Int32Array>('jnt_qposadr');
  const qpos = physics.qpos;
  const rotational = filter === 'limited-and-rotational';
  for (let j = 0; j < physics.njnt; j++) {
    const lo = range[2 * j];
    const hi = range[2 * j + 1];
    const limited = lo < hi;
    const a = adr[j];
    switch (type[j]) {
      case HINGE:
      case SLIDE:
        if (limited) qpos[a] = rng.uniform(lo, hi);
        else if (rotational && type[j] === HINGE) qpos[a] = rng.uniform(-Math.PI, Math.PI);
        break;
      case BALL:
        if (limited) {
          let x = rng.normal();
          let y = rng.normal();
          let z = rng.normal();
          const n = Math.hypot(x, y, z) || 1;
          x /= n; y /= n; z /= n;
          const half = 0.5 * rng.random() * hi;
          const s = Math.sin(half);
          qpos[a] = Math.cos(half);
          qpos[a + 1] = s * x;
          qpos[a + 2] = s * y;
          qpos[a + 3] = s * z;
        } else if (rotational) {
          for (let k = 0; k < 4; k++) qpos[a + k] = rng.normal();
          normalize4(qpos, a);
        }
        break;
      case FREE:
        if (rotational) {
          for (let k = 0; k < 4; k++) qpos[a + 3 + k] = rng.random();
          normalize4(qpos, a + 3);
        }
        break;
      default:
        break;
    }
  }
}
