/**
 * Cheetah domain (DMC "cheetah", after Wawrzyński's half-cheetah): a planar 14 kg runner with a
 * 1 m torso, a head and two three-segment legs, 6 spring-loaded hinges (stiffness 60-240,
 * damping 1.5-6, armature 0.1) driven by motors of gear 120/90/60 (back) and 90/60/30 (front);
 * root: x and z slides plus a pitch hinge. Friction 0.4 on the body. Physics and control step
 * 0.01 s; 1000 steps (10 s).
 *
 * cheetah-run
 *   init: the six leg joints uniform in their ranges, then 200 physics steps with zero control to
 *     settle on the ground (time reset to 0).
 *   observation (17): qpos without root x (rootz, rooty, 6 joints; 8), qvel (9)
 *     (DMC: position, velocity)
 *   reward: tolerance(v, bounds [10, ∞), margin 10, linear, value 0) = min(v / 10, 1) for v ≥ 0,
 *     with v the forward velocity of the torso subtree's centre of mass.
 */
import type { Physics } from '../physics.js';
import { tolerance } from '../rewards.js';
import type { Rng } from '../rng.js';
import type { Task, TaskSpec } from '../types.js';
import { randomizeJoints } from './randomize.js';

// Limb capsules are written as end points (the same segments DMC places by centre and pitch).
export const CHEETAH_XML = `<mujoco model="era-cheetah">
  <compiler settotalmass="14"/>
  <option timestep="0.01"/>
  <default>
    <motor ctrlrange="-1 1"/>
    <default class="limb">
      <joint type="hinge" axis="0 1 0" damping="0.01" armature="0.1" stiffness="8"/>
      <geom type="capsule" size="0.046" condim="3" friction="0.4 0.1 0.1"/>
    </default>
  </default>
  <worldbody>
    <light pos="0 0 3" dir="0 0 -1"/>
    <geom name="ground" type="plane" size="0 0 0.1"/>
    <body name="torso" pos="0 0 0.7" childclass="limb">
      <joint name="rootx" type="slide" axis="1 0 0" stiffness="0" damping="0" armature="0"/>
      <joint name="rootz" type="slide" axis="0 0 1" stiffness="0" damping="0" armature="0"/>
      <joint name="rooty" type="hinge" axis="0 1 0" stiffness="0" damping="0" armature="0"/>
      <geom name="torso" fromto="-0.5 0 0 0.5 0 0"/>
      <geom name="head" fromto="0.4851 0 0.0036 0.7149 0 0.1964"/>
      <body name="bthigh" pos="-0.5 0 0">
        <joint name="bthigh" range="-30 60" stiffness="240" damping="6"/>
        <geom name="bthigh" fromto="0.0107 0 -0.0157 0.1893 0 -0.2443"/>
        <body name="bshin" pos="0.16 0 -0.25">
          <joint name="bshin" range="-50 50" stiffness="180" damping="4.5"/>
          <geom name="bshin" fromto="-0.0052 0 -0.0042 -0.2748 0 -0.1358"/>
          <body name="bfoot" pos="-0.28 0 -0.14">
            <joint name="bfoot" range="-230 50" stiffness="120" damping="3"/>
            <geom name="bfoot" fromto="0.0543 0 -0.1878 0.0057 0 -0.0062"/>
          </body>
        </body>
      </body>
      <body name="fthigh" pos="0.5 0 0">
        <joint name="fthigh" range="-57 0.4" stiffness="180" damping="4.5"/>
        <geom name="fthigh" fromto="-0.1365 0 -0.2352 -0.0035 0 -0.0048"/>
        <body name="fshin" pos="-0.14 0 -0.24">
          <joint name="fshin" range="-70 50" stiffness="120" damping="3"/>
          <geom name="fshin" fromto="0.1243 0 -0.1779 0.0057 0 -0.0021"/>
          <body name="ffoot" pos="0.13 0 -0.18">
            <joint name="ffoot" range="-28 28" stiffness="60" damping="1.5"/>
            <geom name="ffoot" fromto="0.0841 0 -0.1280 0.0059 0 -0.0120"/>
          </body>
        </body>
      </body>
    </body>
  </worldbody>
  <sensor>
    <subtreelinvel name="torso_subtreelinvel" body="torso"/>
  </sensor>
  <actuator>
    <motor name="bthigh" joint="bthigh" gear="120"/>
    <motor name="bshin" joint="bshin" gear="90"/>
    <motor name="bfoot" joint="bfoot" gear="60"/>
    <motor name="fthigh" joint="fthigh" gear="90"/>
    <motor name="fshin" joint="fshin" gear="60"/>
    <motor name="ffoot" joint="ffoot" gear="30"/>
  </actuator>
</mujoco>
`;

const RUN_SPEED = 10;
const RUNNING: readonly [number, number] = [RUN_SPEED, Infinity];
const SETTLE_STEPS = 200;

export const cheetahRun: TaskSpec = {
  name: 'cheetah-run',
  controlTimestep: 0.01,
  timeLimit: 1000,
  loadXml: () => CHEETAH_XML,
  create(physics: Physics): Task {
    const speed = physics.sensorIndex('torso_subtreelinvel');
    const nq = physics.nq;
    const nv = physics.nv;
    return {
      observationSize: nq - 1 + nv,
      initializeEpisode(p: Physics, rng: Rng): void {
        randomizeJoints(p, rng, 'limited');
        p.forward();
        p.step(SETTLE_STEPS);
      },
      observe(p: Physics, out: Float32Array, o: number): void {
        const qpos = p.qpos;
        const qvel = p.qvel;
        for (let i = 1; i < nq; i++) out[o + i - 1] = qpos[i];
        for (let i = 0; i < nv; i++) out[o + nq - 1 + i] = qvel[i];
      },
      reward(p: Physics): number {
        return tolerance(p.sensordata[speed], RUNNING, RUN_SPEED, 'linear', 0);
      },
    };
  },
};
