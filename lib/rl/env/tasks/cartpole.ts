/**
 * Cart-pole domain (DMC "cartpole"): a 1 kg cart on a ±1.8 m rail pushed by a motor (gear 10,
 * ctrl ±1) carrying a 1 m, 0.1 kg capsule pole on a nearly frictionless hinge. Contacts off, RK4,
 * physics and control step 0.01 s; 1000 steps (10 s). Hinge angle 0 = upright.
 *
 * cartpole-swingup
 *   init: cart at 0.01·N(0,1), pole hanging (π + 0.01·N(0,1)), velocities 0.01·N(0,1).
 *   observation (5): [cart x, cos θ (pole zz), sin θ (pole xz), ẋ, θ̇]  (DMC: position, velocity)
 *   reward (smooth): upright · centered · small_control · small_velocity with
 *     upright = (cos θ + 1) / 2,
 *     centered = (1 + tolerance(x, margin 2)) / 2,
 *     small_control = (4 + tolerance(u, margin 1, quadratic, value 0)) / 5,
 *     small_velocity = (1 + tolerance(θ̇, margin 5)) / 2.
 *
 * cartpole-balance (the quick task of `era demo`)
 *   init: cart at U(−0.1, 0.1), pole near upright (U(−0.034, 0.034) rad), velocities 0.01·N(0,1);
 *   observation and reward as swingup.
 */
import type { Physics } from '../physics.js';
import { ZERO, smallControl, tolerance } from '../rewards.js';
import type { Rng } from '../rng.js';
import type { Task, TaskSpec } from '../types.js';

export const CARTPOLE_XML = `<mujoco model="era-cartpole">
  <option timestep="0.01" integrator="RK4">
    <flag contact="disable"/>
  </option>
  <worldbody>
    <light pos="0 0 6"/>
    <geom name="floor" type="plane" pos="0 0 -0.05" size="4 4 0.1"/>
    <geom name="rail_front" type="capsule" fromto="-2 0.07 1 2 0.07 1" size="0.02"/>
    <geom name="rail_back" type="capsule" fromto="-2 -0.07 1 2 -0.07 1" size="0.02"/>
    <body name="cart" pos="0 0 1">
      <joint name="slider" type="slide" axis="1 0 0" range="-1.8 1.8" solreflimit="0.08 1" damping="5e-4"/>
      <geom name="cart" type="box" size="0.2 0.15 0.1" mass="1"/>
      <body name="pole">
        <joint name="hinge" type="hinge" axis="0 1 0" damping="2e-6"/>
        <geom name="pole" type="capsule" fromto="0 0 0 0 0 1" size="0.045" mass="0.1"/>
      </body>
    </body>
  </worldbody>
  <actuator>
    <motor name="push" joint="slider" gear="10" ctrlrange="-1 1"/>
  </actuator>
</mujoco>
`;

/** Initial cart position and hinge angle of an episode. */
type CartpoleStart = (rng: Rng) => { x: number; theta: number };

function cartpoleTask(name: string, start: CartpoleStart): TaskSpec {
  return {
    name,
    controlTimestep: 0.01,
    timeLimit: 1000,
    loadXml: () => CARTPOLE_XML,
    create(physics: Physics): Task {
      const pole = physics.id('body', 'pole');
      const slider = physics.qposIndex('slider');
      const hinge = physics.qposIndex('hinge');
      return {
        observationSize: 5,
        initializeEpisode(p: Physics, rng: Rng): void {
          const { x, theta } = start(rng);
          p.qpos[slider] = x;
          p.qpos[hinge] = theta;
          const qvel = p.qvel;
          for (let i = 0; i < p.nv; i++) qvel[i] = 0.01 * rng.normal();
        },
        observe(p: Physics, out: Float32Array, o: number): void {
          const m = p.xmat;
          out[o] = p.qpos[slider];
          out[o + 1] = m[9 * pole + 8];
          out[o + 2] = m[9 * pole + 2];
          out[o + 3] = p.qvel[0];
          out[o + 4] = p.qvel[1];
        },
        reward(p: Physics, action: Float64Array): number {
          const upright = (p.xmat[9 * pole + 8] + 1) / 2;
          const centered = (1 + tolerance(p.qpos[slider], ZERO, 2)) / 2;
          const control = (4 + smallControl(action)) / 5;
          const velocity = (1 + tolerance(p.qvel[1], ZERO, 5)) / 2;
          return upright * centered * control * velocity;
        },
      };
    },
  };
}

export const cartpoleSwingup = cartpoleTask('cartpole-swingup', (rng) => ({ x: 0.01 * rng.normal(), theta: Math.PI + 0.01 * rng.normal() }));
export const cartpoleBalance = cartpoleTask('cartpole-balance', (rng) => ({ x: rng.uniform(-0.1, 0.1), theta: rng.uniform(-0.034, 0.034) }));
