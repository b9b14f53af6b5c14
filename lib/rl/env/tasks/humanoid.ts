/**
 * Humanoid domain on the model Debian's libmujoco-samples installs
 * (/usr/share/mujoco/model/humanoid/humanoid.xml: MuJoCo's DMC-derived humanoid, 21 hinges
 * driven by 21 motors with ctrlrange ±1, a free root, physics step 0.005 s). The file is read at
 * make time (EnvOptions.modelPath overrides the location) and a subtree linear-velocity sensor on
 * the torso is appended, as DMC's humanoid has. Without modelPath the file is looked up at
 * $ERA_HUMANOID_XML, else at Debian's path (the GPU bundle ships a copy and sets the variable). Control step 0.025 s (5 physics steps); 1000
 * steps (25 s).
 *
 * humanoid-stand / humanoid-walk / humanoid-run (move speed 0 / 1 / 10 m/s)
 *   init: limited joints uniform in their ranges, root orientation random (dm_control's rule),
 *     redrawn until nothing touches (at most 1000 draws; the last one is kept).
 *   observation (67 on this model): joint angles qpos[7:] (21); head height (1); hands and feet
 *     relative to the torso in the torso frame, in the order left hand, left foot, right hand,
 *     right foot (12); the torso frame's z row (zx, zy, zz) (3); centre-of-mass velocity (3);
 *     qvel (27)  (DMC: joint_angles, head_height, extremities, torso_vertical, com_velocity,
 *     velocity)
 *   reward: small_control · stand · move with
 *     stand = tolerance(z_head, [1.4, ∞), margin 0.35) · tolerance(torso zz, [0.9, ∞), margin 1.9,
 *       linear, value 0),
 *     small_control = (4 + mean tolerance(u, margin 1, quadratic, 0)) / 5,
 *     move (speed 0) = mean over x, y of tolerance(v_com, margin 2),
 *     move (speed s > 0) = (5 · tolerance(|v_com,xy|, [s, ∞), margin s, linear, value 0) + 1) / 6.
 */
import { existsSync, readFileSync } from 'node:fs';

import type { Physics } from '../physics.js';
import { ZERO, smallControl, tolerance } from '../rewards.js';
import type { Rng } from '../rng.js';
import type { Task, TaskSpec } from '../types.js';
import { randomizeJoints } from './randomize.js';

export const DEFAULT_HUMANOID_PATH = '/usr/share/mujoco/model/humanoid/humanoid.xml';
/** The environment variable that points the humanoid tasks at another humanoid.xml. */
export const HUMANOID_PATH_ENV = 'ERA_HUMANOID_XML';

/** Where the humanoid tasks read their model when no modelPath is given: $ERA_HUMANOID_XML, else Debian's copy. */
export function humanoidModelPath(): string {
  const fromEnv = process.env[HUMANOID_PATH_ENV];
  return fromEnv !== undefined && fromEnv.length > 0 ? fromEnv : DEFAULT_HUMANOID_PATH;
}

const COM_SENSOR = 'era_torso_subtreelinvel';
const STAND_HEIGHT = 1.4;
const STANDING: readonly [number, number] = [STAND_HEIGHT, Infinity];
const UPRIGHT: readonly [number, number] = [0.9, Infinity];
const MAX_INIT_DRAWS = 1000;
const LIMBS = ['left_hand', 'left_foot', 'right_hand', 'right_foot'] as const;

/** Reads the humanoid MJCF and appends the centre-of-mass velocity sensor. */
export function loadHumanoidXml(modelPath?: string): string {
  const path = modelPath ?? humanoidModelPath();
  if (!existsSync(path)) {
    throw new Error(
      `The humanoid model ${path} is absent: install the Debian package libmujoco-samples `
      + `(apt-get install libmujoco-samples), or pass its location as the modelPath option or in ${HUMANOID_PATH_ENV}`,
    );
  }
  const xml = readFileSync(path, 'utf8');
  const end = xml.lastIndexOf('</mujoco>');
  if (end < 0) throw new Error(`${path} is not an MJCF model (no closing </mujoco>)`);
  return `${xml.slice(0, end)}  <sensor>\n    <subtreelinvel name="${COM_SENSOR}" body="torso"/>\n  </sensor>\n${xml.slice(end)}`;
}

function humanoidTask(name: string, moveSpeed: number): TaskSpec {
  return {
    name,
    controlTimestep: 0.025,
    timeLimit: 1000,
    loadXml: (options) => loadHumanoidXml(options.modelPath),
    create(physics: Physics): Task {
      // The observation drops qpos[0:7], which must be the root's free joint.
      if (physics.njnt === 0 || physics.modelArray<Int32Array>('jnt_type')[0] !== 0) {
        throw new Error(`${name} needs a humanoid whose first joint is a free joint (the root)`);
      }
      const torso = physics.id('body', 'torso');
      const head = physics.id('body', 'head');
      const limbs = LIMBS.map((l) => physics.id('body', l));
      const com = physics.sensorIndex(COM_SENSOR);
      const moving: readonly [number, number] = [moveSpeed, Infinity];
      const nq = physics.nq;
      const nv = physics.nv;
      return {
        observationSize: nq - 7 + 1 + 3 * limbs.length + 3 + 3 + nv,
        initializeEpisode(p: Physics, rng: Rng): void {
          for (let draw = 0; draw < MAX_INIT_DRAWS; draw++) {
            randomizeJoints(p, rng);
            p.forward();
            if (p.data.ncon === 0) break;
          }
        },
        observe(p: Physics, out: Float32Array, o: number): void {
          const qpos = p.qpos;
          const xpos = p.xpos;
          const r = p.xmat;
          const t = 9 * torso;
          let k = o;
          for (let i = 7; i < nq; i++) out[k++] = qpos[i];
          out[k++] = xpos[3 * head + 2];
          for (let l = 0; l < limbs.length; l++) {
            const b = limbs[l];
            const dx = xpos[3 * b] - xpos[3 * torso];
            const dy = xpos[3 * b + 1] - xpos[3 * torso + 1];
            const dz = xpos[3 * b + 2] - xpos[3 * torso + 2];
            // (world offset) · R: the offset in the torso frame.
            for (let j = 0; j < 3; j++) out[k++] = dx * r[t + j] + dy * r[t + 3 + j] + dz * r[t + 6 + j];
          }
          out[k++] = r[t + 6];
          out[k++] = r[t + 7];
          out[k++] = r[t + 8];
          const s = p.sensordata;
          out[k++] = s[com];
          out[k++] = s[com + 1];
          out[k++] = s[com + 2];
          const qvel = p.qvel;
          for (let i = 0; i < nv; i++) out[k++] = qvel[i];
        },
        reward(p: Physics, action: Float64Array): number {
          const standing = tolerance(p.xpos[3 * head + 2], STANDING, STAND_HEIGHT / 4);
          const upright = tolerance(p.xmat[9 * torso + 8], UPRIGHT, 1.9, 'linear', 0);
          const control = (4 + smallControl(action)) / 5;
          const vx = p.sensordata[com];
          const vy = p.sensordata[com + 1];
          let move: number;
          if (moveSpeed === 0) {
            move = (tolerance(vx, ZERO, 2) + tolerance(vy, ZERO, 2)) / 2;
          } else {
            move = (5 * tolerance(Math.hypot(vx, vy), moving, moveSpeed, 'linear', 0) + 1) / 6;
          }
          return control * standing * upright * move;
        },
      };
    },
  };
}

export const humanoidStand = humanoidTask('humanoid-stand', 0);
export const humanoidWalk = humanoidTask('humanoid-walk', 1);
export const humanoidRun = humanoidTask('humanoid-run', 10);
