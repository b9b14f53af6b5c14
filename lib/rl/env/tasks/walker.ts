/**
 * Walker domain (DMC "walker", planar walker): a 1.3 m tall biped, torso capsule plus two
 * thigh/leg/foot chains; hips -20°..100° (gear 100), knees -150°..0° (gear 50), ankles ±45°
 * (gear 20); root: z and x slides plus a pitch hinge. The body collides only with the floor
 * (friction 0.7). Physics step 0.0025 s, control step 0.025 s (10 physics steps); 1000 steps (25 s).
 *
 * walker-walk
 *   init: limited joints uniform in their ranges, root pitch uniform in [-π, π) (it falls).
 *   observation (24): per body after the world (torso, right thigh/leg/foot, left thigh/leg/foot)
 *     its frame's xx and xz (14); torso height z (1); qvel (9)
 *     (DMC: orientations, height, velocity)
 *   reward: stand · (5·move + 1) / 6 with
 *     stand = (3·tolerance(z_torso, [1.2, ∞), margin 0.6) + (1 + torso zz) / 2) / 4,
 *     move = tolerance(v, [1, ∞), margin 0.5, linear, value 0.5), v the torso subtree's
 *     centre-of-mass forward velocity.
 */
import type { Physics } from '../physics.js';
import { tolerance } from '../rewards.js';
import type { Rng } from '../rng.js';
import type { Task, TaskSpec } from '../types.js';
import { randomizeJoints } from './randomize.js';

function leg(side: 'left' | 'right', y: string): string {
  return `      <body name="${side}_thigh" pos="0 ${y} -0.3">
        <joint name="${side}_hip" range="-20 100"/>
        <geom name="${side}_thigh" fromto="0 0 0 0 0 -0.45" size="0.05"/>
        <body name="${side}_leg" pos="0 0 -0.7">
          <joint name="${side}_knee" pos="0 0 0.25" range="-150 0"/>
          <geom name="${side}_leg" fromto="0 0 0.25 0 0 -0.25" size="0.04"/>
          <body name="${side}_foot" pos="0.06 0 -0.25">
            <joint name="${side}_ankle" pos="-0.06 0 0" range="-45 45"/>
            <geom name="${side}_foot" fromto="-0.1 0 0 0.1 0 0" size="0.05"/>
          </body>
        </body>
      </body>`;
}

export const WALKER_XML = `<mujoco model="era-walker">
  <option timestep="0.0025"/>
  <default>
    <joint type="hinge" axis="0 -1 0" damping="0.1" armature="0.01" solimplimit="0 0.99 0.01"/>
    <geom type="capsule" contype="1" conaffinity="0" friction="0.7 0.1 0.1"/>
    <motor ctrlrange="-1 1"/>
  </default>
  <worldbody>
    <light pos="0 0 4" dir="0 0 -1"/>
    <geom name="floor" type="plane" size="0 0 0.1" conaffinity="1"/>
    <body name="torso" pos="0 0 1.3">
      <joint name="rootz" type="slide" axis="0 0 1" damping="0" armature="0"/>
      <joint name="rootx" type="slide" axis="1 0 0" damping="0" armature="0"/>
      <joint name="rooty" type="hinge" axis="0 1 0" damping="0" armature="0"/>
      <geom name="torso" fromto="0 0 -0.3 0 0 0.3" size="0.07"/>
${leg('right', '-0.05')}
${leg('left', '0.05')}
    </body>
  </worldbody>
  <sensor>
    <subtreelinvel name="torso_subtreelinvel" body="torso"/>
  </sensor>
  <actuator>
    <motor name="right_hip" joint="right_hip" gear="100"/>
    <motor name="right_knee" joint="right_knee" gear="50"/>
    <motor name="right_ankle" joint="right_ankle" gear="20"/>
    <motor name="left_hip" joint="left_hip" gear="100"/>
    <motor name="left_knee" joint="left_knee" gear="50"/>
    <motor name="left_ankle" joint="left_ankle" gear="20"/>
  </actuator>
</mujoco>
`;

const STAND_HEIGHT = 1.2;
const WALK_SPEED = 1;
const STANDING: readonly [number, number] = [STAND_HEIGHT, Infinity];
const WALKING: readonly [number, number] = [WALK_SPEED, Infinity];

export const walkerWalk: TaskSpec = {
  name: 'walker-walk',
  controlTimestep: 0.025,
  timeLimit: 1000,
  loadXml: () => WALKER_XML,
  create(physics: Physics): Task {
    const torso = physics.id('body', 'torso');
    const speed = physics.sensorIndex('torso_subtreelinvel');
    const nbody = physics.nbody;
    const nv = physics.nv;
    return {
      observationSize: 2 * (nbody - 1) + 1 + nv,
      initializeEpisode(p: Physics, rng: Rng): void {
        randomizeJoints(p, rng);
      },
      observe(p: Physics, out: Float32Array, o: number): void {
        const m = p.xmat;
        let k = o;
        for (let b = 1; b < nbody; b++) {
          out[k++] = m[9 * b];
          out[k++] = m[9 * b + 2];
        }
        out[k++] = p.xpos[3 * torso + 2];
        const qvel = p.qvel;
        for (let i = 0; i < nv; i++) out[k++] = qvel[i];
      },
      reward(p: Physics): number {
        const standing = tolerance(p.xpos[3 * torso + 2], STANDING, STAND_HEIGHT / 2);
        const upright = (1 + p.xmat[9 * torso + 8]) / 2;
        const stand = (3 * standing + upright) / 4;
        const move = tolerance(p.sensordata[speed], WALKING, WALK_SPEED / 2, 'linear', 0.5);
        return (stand * (5 * move + 1)) / 6;
      },
    };
  },
};
