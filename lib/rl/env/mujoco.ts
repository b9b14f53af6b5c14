/**
 * Loads the MuJoCo WebAssembly module (@mujoco/mujoco, single-threaded build) once per process.
 * Every environment shares the module; each owns its MjModel/MjData. A failed load is not
 * cached, so a later call can try again.
 */
import loadMujocoModule, { type MainModule } from '@mujoco/mujoco';

export type MujocoModule = MainModule;

let pending: Promise<MujocoModule> | undefined;

export function loadMujoco(): Promise<MujocoModule> {
  if (!pending) {
    pending = loadMujocoModule().catch((err: unknown) => {
      pending = undefined;
      throw err;
    });
  }
  return pending;
}
