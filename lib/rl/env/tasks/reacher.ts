/**
 * Reacher domain (DMC "reacher"): a planar two-link arm (0.12 m + 0.12 m to the fingertip) on
 * hinges about z, the shoulder unlimited and the wrist within ±160°, motors of gear 0.05 on both,
 * joint damping 0.01; contacts off; physics and control step 0.02 s; 1000 steps (20 s).
 *
 * reacher-easy
 *   init: shoulder uniform in [-π, π), wrist uniform in its range; the target (radius 0.05 m)
 *     placed at angle φ ~ U[0, 2π), distance ρ ~ U[0.05, 0.20] from the shoulder:
 *     (ρ sin φ, ρ cos φ).
 *   observation (6): [shoulder, wrist angles, target − fingertip (x, y), shoulder, wrist velocities]
 *     (DMC: position, to_target, velocity)
 *   reward: tolerance(|target − fingertip|, bounds [0, r_target + r_finger]) (sparse 0/1).
 */
import type { Physics } from '../physics.js';
import { tolerance } from '../rewards.js';
import type { Rng } from '../rng.js';
import type { Task, TaskSpec } from '../types.js';
import { randomizeJoints } from './randomize.js';

export const REACHER_XML = `<mujoco model="era-reacher">
  <option timestep="0.02">
    <flag contact="disable"/>
  </option>
  <default>
    <joint type="hinge" axis="0 0 1" damping="0.01"/>
    <motor gear="0.05" ctrlrange="-1 1"/>
  </default>
  <worldbody>
    <light pos="0 0 1"/>
    <geom name="ground" type="plane" size="0.625 0.625 0.1"/>
    <body name="arm" pos="0 0 0.01">
      <joint name="shoulder"/>
      <geom name="arm" type="capsule" fromto="0 0 0 0.12 0 0" size="0.01"/>
      <body name="hand" pos="0.12 0 0">
        <joint name="wrist" range="-160 160"/>
        <geom name="hand" type="capsule" fromto="0 0 0 0.1 0 0" size="0.01"/>
        <body name="finger" pos="0.12 0 0">
          <geom name="finger" type="sphere" size="0.01"/>
        </body>
      </body>
    </body>
    <geom name="target" type="sphere" pos="0 0 0.01" size="0.05" contype="0" conaffinity="0"/>
  </worldbody>
  <actuator>
    <motor name="shoulder" joint="shoulder"/>
    <motor name="wrist" joint="wrist"/>
  </actuator>
</mujoco>
`;

export const reacherEasy: TaskSpec = {
  name: 'reacher-easy',
  controlTimestep: 0.02,
  timeLimit: 1000,
  loadXml: () => REACHER_XML,
  create(physics: Physics): Task {
    const target = physics.id('geom', 'target');
    const finger = physics.id('geom', 'finger');
    const size = physics.modelArray('geom_size');
    const touching: readonly [number, number] = [0, size[3 * target] + size[3 * finger]];
    return {
      observationSize: 6,
      initializeEpisode(p: Physics, rng: Rng): void {
        randomizeJoints(p, rng);
        const angle = rng.uniform(0, 2 * Math.PI);
        const radius = rng.uniform(0.05, 0.2);
        // The target is a world geom: moving it edits this environment's own model.
        const pos = p.modelArray('geom_pos');
        pos[3 * target] = radius * Math.sin(angle);
        pos[3 * target + 1] = radius * Math.cos(angle);
      },
      observe(p: Physics, out: Float32Array, o: number): void {
        const g = p.geomXpos;
        out[o] = p.qpos[0];
        out[o + 1] = p.qpos[1];
        out[o + 2] = g[3 * target] - g[3 * finger];
        out[o + 3] = g[3 * target + 1] - g[3 * finger + 1];
        out[o + 4] = p.qvel[0];
        out[o + 5] = p.qvel[1];
      },
      reward(p: Physics): number {
        const g = p.geomXpos;
        const d = Math.hypot(g[3 * target] - g[3 * finger], g[3 * target + 1] - g[3 * finger + 1], g[3 * target + 2] - g[3 * finger + 2]);
        return tolerance(d, touching);
      },
    };
  },
};
