/**
 * Hopper domain (DMC "hopper", planar one-legged hopper): torso with a nose, pelvis, thigh, calf
 * and foot on hinges waist ±30° (gear 30), hip -170°..10° (gear 40), knee 5°..150° (gear 30),
 * ankle ±45° (gear 10), joint damping 0.05 and armature 0.2; root: x and z slides plus a pitch
 * hinge; touch sensors at the toe and heel. Physics step 0.005 s, control step 0.02 s (4 physics
 * steps); 1000 steps (20 s).
 *
 * hopper-stand
 *   init: limited joints uniform in their ranges, root pitch uniform in [-π, π) (it falls).
 *   observation (15): qpos without root x (6), qvel (7), log(1 + touch) at toe and heel (2)
 *     (DMC: position, velocity, touch)
 *   reward: tolerance(h, [0.6, 2]) · (4 + small_control) / 5 with h the height of the torso's
 *     centre of mass over the foot's, small_control = mean tolerance(u, margin 1, quadratic, 0).
 */
import type { Physics } from '../physics.js';
import { smallControl, tolerance } from '../rewards.js';
import type { Rng } from '../rng.js';
import type { Task, TaskSpec } from '../types.js';
import { randomizeJoints } from './randomize.js';

export const HOPPER_XML = `<mujoco model="era-hopper">
  <option timestep="0.005"/>
  <default>
    <joint type="hinge" axis="0 1 0" damping="0.05" armature="0.2"/>
    <geom type="capsule"/>
    <site type="sphere" size="0.05"/>
    <motor ctrlrange="-1 1"/>
  </default>
  <worldbody>
    <light pos="0 0 3" dir="0 0 -1"/>
    <geom name="floor" type="plane" size="0 0 0.1"/>
    <body name="torso" pos="0 0 1">
      <joint name="rootx" type="slide" axis="1 0 0" damping="0" armature="0"/>
      <joint name="rootz" type="slide" axis="0 0 1" damping="0" armature="0"/>
      <joint name="rooty" type="hinge" axis="0 1 0" damping="0" armature="0"/>
      <geom name="torso" fromto="0 0 -0.05 0 0 0.2" size="0.0653"/>
      <geom name="nose" fromto="0.08 0 0.13 0.15 0 0.14" size="0.03"/>
      <body name="pelvis" pos="0 0 -0.05">
        <joint name="waist" range="-30 30"/>
        <geom name="pelvis" fromto="0 0 0 0 0 -0.15" size="0.065"/>
        <body name="thigh" pos="0 0 -0.2">
          <joint name="hip" range="-170 10"/>
          <geom name="thigh" fromto="0 0 0 0 0 -0.33" size="0.04"/>
          <body name="calf" pos="0 0 -0.33">
            <joint name="knee" range="5 150"/>
            <geom name="calf" fromto="0 0 0 0 0 -0.32" size="0.03"/>
            <body name="foot" pos="0 0 -0.32">
              <joint name="ankle" range="-45 45"/>
              <geom name="foot" fromto="-0.08 0 0 0.17 0 0" size="0.04"/>
              <site name="toe" pos="0.17 0 0"/>
              <site name="heel" pos="-0.08 0 0"/>
            </body>
          </body>
        </body>
      </body>
    </body>
  </worldbody>
  <sensor>
    <touch name="touch_toe" site="toe"/>
    <touch name="touch_heel" site="heel"/>
  </sensor>
  <actuator>
    <motor name="waist" joint="waist" gear="30"/>
    <motor name="hip" joint="hip" gear="40"/>
    <motor name="knee" joint="knee" gear="30"/>
    <motor name="ankle" joint="ankle" gear="10"/>
  </actuator>
</mujoco>
`;

const STAND_HEIGHT = 0.6;
const STANDING: readonly [number, number] = [STAND_HEIGHT, 2];

export const hopperStand: TaskSpec = {
  name: 'hopper-stand',
  controlTimestep: 0.02,
  timeLimit: 1000,
  loadXml: () => HOPPER_XML,
  create(physics: Physics): Task {
    const torso = physics.id('body', 'torso');
    const foot = physics.id('body', 'foot');
    const toe = physics.sensorIndex('touch_toe');
    const heel = physics.sensorIndex('touch_heel');
    const nq = physics.nq;
    const nv = physics.nv;
    return {
      observationSize: nq - 1 + nv + 2,
      initializeEpisode(p: Physics, rng: Rng): void {
        randomizeJoints(p, rng);
      },
      observe(p: Physics, out: Float32Array, o: number): void {
        const qpos = p.qpos;
        const qvel = p.qvel;
        let k = o;
        for (let i = 1; i < nq; i++) out[k++] = qpos[i];
        for (let i = 0; i < nv; i++) out[k++] = qvel[i];
        out[k++] = Math.log1p(p.sensordata[toe]);
        out[k] = Math.log1p(p.sensordata[heel]);
      },
      reward(p: Physics, action: Float64Array): number {
        const height = p.xipos[3 * torso + 2] - p.xipos[3 * foot + 2];
        const standing = tolerance(height, STANDING);
        return (standing * (4 + smallControl(action))) / 5;
      },
    };
  },
};
