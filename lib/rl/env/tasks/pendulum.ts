/**
 * Pendulum domain (DMC "pendulum"): a 0.5 m massless rod with a 1 kg bob on a damped hinge
 * (damping 0.1), torque limited to ±1 N·m, too weak to lift the bob directly (m·g·l ≈ 4.9 N·m),
 * so it must swing. qpos = 0 is upright. Physics and control step 0.02 s; 1000 steps (20 s).
 *
 * pendulum-swingup
 *   init: hinge angle uniform in [-π, π), at rest.
 *   observation (3): [cos θ (pole zz), sin θ (pole xz), θ̇]  (DMC: orientation, velocity)
 *   reward: tolerance(cos θ, bounds [cos 8°, 1]) = 1 within 8° of upright, else 0 (sparse; DMC's
 *   _ANGLE_BOUND is 8°, though its tech report's text says 30°).
 */
import type { Physics } from '../physics.js';
import { tolerance } from '../rewards.js';
import type { Rng } from '../rng.js';
import type { Task, TaskSpec } from '../types.js';

export const PENDULUM_XML = `<mujoco model="era-pendulum">
  <option timestep="0.02">
    <flag contact="disable"/>
  </option>
  <worldbody>
    <light pos="0 0 3"/>
    <geom name="floor" type="plane" size="2 2 0.1"/>
    <body name="pole" pos="0 0 0.6">
      <joint name="hinge" type="hinge" axis="0 1 0" damping="0.1"/>
      <geom name="rod" type="capsule" fromto="0 0 0 0 0 0.5" size="0.02" mass="0"/>
      <geom name="bob" type="sphere" pos="0 0 0.5" size="0.05" mass="1"/>
    </body>
  </worldbody>
  <actuator>
    <motor name="torque" joint="hinge" gear="1" ctrlrange="-1 1"/>
  </actuator>
</mujoco>
`;

const UPRIGHT: readonly [number, number] = [Math.cos((8 * Math.PI) / 180), 1];

export const pendulumSwingup: TaskSpec = {
  name: 'pendulum-swingup',
  controlTimestep: 0.02,
  timeLimit: 1000,
  loadXml: () => PENDULUM_XML,
  create(physics: Physics): Task {
    const pole = physics.id('body', 'pole');
    const hinge = physics.qposIndex('hinge');
    return {
      observationSize: 3,
      initializeEpisode(p: Physics, rng: Rng): void {
        p.qpos[hinge] = rng.uniform(-Math.PI, Math.PI);
      },
      observe(p: Physics, out: Float32Array, o: number): void {
        const m = p.xmat;
        out[o] = m[9 * pole + 8];
        out[o + 1] = m[9 * pole + 2];
        out[o + 2] = p.qvel[hinge];
      },
      reward(p: Physics): number {
        return tolerance(p.xmat[9 * pole + 8], UPRIGHT);
      },
    };
  },
};
