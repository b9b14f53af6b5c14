/**
 * One MuJoCo simulation (an MjModel and its MjData) owned by one environment: typed views of the
 * arrays the tasks read, name lookups, and the step that keeps positions, orientations and
 * sensors in sync with qpos after every physics step.
 *
 * Views: the bindings hand out typed arrays over the wasm heap. Growing the heap (another model or
 * data being created anywhere in the process) detaches them, so each view is cached and fetched
 * again only when its buffer has been detached (byteLength 0); reading a view costs no
 * allocation on the hot path.
 *
 * Stepping (as dm_control's legacy step): with the Euler or implicit integrators a physics step is
 * mj_step2 (forces from the current ctrl, integrate) followed by mj_step1 (kinematics, positions,
 * velocities and position/velocity sensors of the new state), so xpos/xmat/sensordata describe the
 * state that qpos/qvel hold, at the cost of one mj_step. RK4 cannot be split: those models take
 * mj_step and one mj_step1 after the last sub-step (without it xmat lags qpos by ~1e-6 on the
 * cart-pole). Acceleration-stage sensors (touch) lag one physics step behind, as in dm_control.
 */
import type { MjData, MjModel } from '@mujoco/mujoco';

import type { MujocoModule } from './mujoco.js';

type View = Float64Array | Int32Array;

/** Deletes the wasm objects of a Physics that was garbage-collected without dispose(). */
const leaked = new FinalizationRegistry<{ model: MjModel; data: MjData }>((held) => {
  held.data.delete();
  held.model.delete();
});

export class Physics {
  readonly mj: MujocoModule;
  readonly model: MjModel;
  readonly data: MjData;
  /** Seconds per physics step (the model's opt.timestep). */
  readonly timestep: number;
  readonly nq: number;
  readonly nv: number;
  readonly nu: number;
  readonly nbody: number;
  readonly njnt: number;
  private readonly splitStep: boolean;
  private readonly modelViews = new Map<string, View>();
  private readonly dataViews = new Map<string, View>();
  private readonly handles: { model: MjModel; data: MjData };
  private disposedFlag = false;

  /** Compiles an MJCF string; a MuJoCo compile error becomes an Error with MuJoCo's message. */
  static fromXml(mj: MujocoModule, xml: string, what: string): Physics {
    let model: MjModel;
    try {
      model = mj.MjModel.from_xml_string(xml);
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      throw new Error(`MuJoCo could not compile the model of ${what}: ${msg}`);
    }
    let data: MjData;
    try {
      data = new mj.MjData(model);
    } catch (err) {
      model.delete();
      throw err;
    }
    return new Physics(mj, model, data);
  }

  private constructor(mj: MujocoModule, model: MjModel, data: MjData) {
    this.mj = mj;
    this.model = model;
    this.data = data;
    const opt = model.opt; // a fresh handle on every read: read once, release it
    this.timestep = opt.timestep;
    this.splitStep = opt.integrator !== mj.mjtIntegrator.mjINT_RK4.value;
    opt.delete();
    this.nq = model.nq;
    this.nv = model.nv;
    this.nu = model.nu;
    this.nbody = model.nbody;
    this.njnt = model.njnt;
    this.handles = { model, data };
    leaked.register(this, this.handles, this);
  }

  get disposed(): boolean {
    return this.disposedFlag;
  }

  /** A cached view of an MjModel array (name as in the bindings, e.g. 'jnt_range'). */
  modelArray<T extends View = Float64Array>(name: string): T {
    let v = this.modelViews.get(name);
    if (v === undefined || v.buffer.byteLength === 0) {
      v = (this.model as unknown as Record<string, View>)[name];
      this.modelViews.set(name, v);
    }
    return v as T;
  }

  /** A cached view of an MjData array (name as in the bindings, e.g. 'xpos'). */
  dataArray<T extends View = Float64Array>(name: string): T {
    let v = this.dataViews.get(name);
    if (v === undefined || v.buffer.byteLength === 0) {
      v = (this.data as unknown as Record<string, View>)[name];
      this.dataViews.set(name, v);
    }
    return v as T;
  }

  get qpos(): Float64Array { return this.dataArray('qpos'); }
  get qvel(): Float64Array { return this.dataArray('qvel'); }
  get ctrl(): Float64Array { return this.dataArray('ctrl'); }
  /** Body frame origins [nbody, 3]. */
  get xpos(): Float64Array { return this.dataArray('xpos'); }
  /** Body frame orientations [nbody, 9], row-major: [xx xy xz yx yy yz zx zy zz]. */
  get xmat(): Float64Array { return this.dataArray('xmat'); }
  /** Body centres of mass [nbody, 3]. */
  get xipos(): Float64Array { return this.dataArray('xipos'); }
  get geomXpos(): Float64Array { return this.dataArray('geom_xpos'); }
  get sensordata(): Float64Array { return this.dataArray('sensordata'); }

  /** The id of a named object; an Error naming the object when the model has none. */
  id(kind: 'body' | 'joint' | 'geom' | 'site' | 'sensor' | 'actuator', name: string): number {
    const o = this.mj.mjtObj;
    const type = {
      body: o.mjOBJ_BODY, joint: o.mjOBJ_JOINT, geom: o.mjOBJ_GEOM, site: o.mjOBJ_SITE, sensor: o.mjOBJ_SENSOR, actuator: o.mjOBJ_ACTUATOR,
    }[kind].value;
    const id = this.mj.mj_name2id(this.model, type, name);
    if (id < 0) throw new Error(`The model has no ${kind} named '${name}'`);
    return id;
  }

  /** The qpos index of a named joint. */
  qposIndex(joint: string): number {
    return this.modelArray<Int32Array>('jnt_qposadr')[this.id('joint', joint)];
  }

  /** The sensordata index of a named sensor. */
  sensorIndex(sensor: string): number {
    return this.modelArray<Int32Array>('sensor_adr')[this.id('sensor', sensor)];
  }

  /** Back to the model's reference configuration (qpos0, zero velocity, zero ctrl, time 0). */
  resetData(): void {
    this.mj.mj_resetData(this.model, this.data);
  }

  /** Recomputes every derived quantity of the current qpos/qvel. */
  forward(): void {
    this.mj.mj_forward(this.model, this.data);
  }

  /** Advances `n` physics steps with the current ctrl (see the header on split stepping). */
  step(n = 1): void {
    const { mj, model, data } = this;
    if (this.splitStep) {
      for (let i = 0; i < n; i++) {
        mj.mj_step2(model, data);
        mj.mj_step1(model, data);
      }
    } else {
      for (let i = 0; i < n; i++) mj.mj_step(model, data);
      mj.mj_step1(model, data);
    }
  }

  /** Frees the MjData and MjModel; a second call does nothing. */
  dispose(): void {
    if (this.disposedFlag) return;
    this.disposedFlag = true;
    leaked.unregister(this);
    this.modelViews.clear();
    this.dataViews.clear();
    this.data.delete();
    this.model.delete();
  }
}
