/**
 * A replay buffer that lives on the device, for several seeds trained side by side.
 *
 * Storage is one tensor [S, N, F] (S seeds, capacity N, F = 2·obs + act + 2): each row packs
 * `observation | action | reward | nextObservation | mask`, so one gather fetches a whole batch.
 * Transitions arrive from the environments on the host; `add` packs them into a host staging
 * array and they cross to the device in one write plus one ring-buffer scatter when the buffer
 * is next sampled (or the staging array is full), which during the uniform warm-up means one
 * transfer per `stagingRows` steps instead of five per step.
 *
 * `sample` draws the same B indices for every seed (era-spec §1.7) on the device (Philox) and
 * returns views of reused tensors: they stay valid until the next `sample`.
 */
import type { Device } from '../device.js';
import { defaultDevice } from '../device.js';
import { Generator } from '../random.js';
import { empty, type Tensor } from '../tensor.js';
import { integer, optionNames, plainObject, rangeError, typeError } from '../validate.js';
import { split } from '../nn/functional.js';
import { gatherRows, randomIndices, scatterRows } from './ops.js';

export interface ReplayBufferOptions {
  /** Independent seeds (one row stream each), default 1. */
  seeds?: number;
  /** Transitions kept per seed (oldest overwritten first). */
  capacity: number;
  observationSize: number;
  actionSize: number;
  device?: Device;
  /** Transitions staged on the host before a transfer (default 1000). */
  stagingRows?: number;
}

const REPLAY_BUFFER_OPTIONS = optionNames('seeds', 'capacity', 'observationSize', 'actionSize', 'device', 'stagingRows');

export interface ReplayBatch {
  observations: Tensor; // [S, B, obs]
  actions: Tensor; // [S, B, act]
  rewards: Tensor; // [S, B, 1]
  nextObservations: Tensor; // [S, B, obs]
  masks: Tensor; // [S, B, 1]
}

interface BatchTensors extends ReplayBatch {
  indices: Tensor;
  packed: Tensor;
  parts: Tensor[];
}

export class ReplayBuffer implements Disposable {
  readonly seeds: number;
  readonly capacity: number;
  readonly observationSize: number;
  readonly actionSize: number;
  readonly rowSize: number;
  readonly device: Device;
  /** [S, N, F] packed transitions. */
  readonly storage: Tensor;

  #size = 0;
  #next = 0; // ring position of the next row written to the device
  #staged = 0;
  readonly #stagingRows: number;
  readonly #staging: Float32Array; // [S, stagingRows, F] (only the first `staged` rows of each seed used)
  #stagingTensor: Tensor | null = null; // [S · stagingRows · F] on the device; k rows use a view of it
  #batch: BatchTensors | null = null;
  #disposed = false;

  constructor(options: ReplayBufferOptions) {
    const o = plainObject(options, 'options', REPLAY_BUFFER_OPTIONS);
    this.seeds = integer(o.seeds ?? 1, 'options.seeds', 1);
    this.capacity = integer(o.capacity, 'options.capacity', 1);
    this.observationSize = integer(o.observationSize, 'options.observationSize', 1);
    this.actionSize = integer(o.actionSize, 'options.actionSize', 1);
    this.#stagingRows = Math.min(integer(o.stagingRows ?? 1000, 'options.stagingRows', 1), this.capacity);
    this.device = (o.device as Device | undefined) ?? defaultDevice();
    this.rowSize = 2 * this.observationSize + this.actionSize + 2;
    this.storage = empty([this.seeds, this.capacity, this.rowSize], { device: this.device });
    this.storage.fill(0);
    this.#staging = new Float32Array(this.seeds * this.#stagingRows * this.rowSize);
  }

  /** Transitions stored per seed (those still staged on the host included). */
  get size(): number {
    return Math.min(this.#size + this.#staged, this.capacity);
  }

  /** Total transitions ever added per seed. */
  get added(): number {
    return this.#added;
  }
  #added = 0;

  /**
   * Adds one transition per seed. observation/nextObservation: [S·obs], action: [S·act],
   * reward/mask: [S] (mask 0 stops bootstrapping at a true terminal state).
   */
  add(observation: ArrayLike<number>, action: ArrayLike<number>, reward: ArrayLike<number>, nextObservation: ArrayLike<number>, mask: ArrayLike<number>): void {
    this.#live();
    const s = this.seeds;
    const obs = this.observationSize;
    const act = this.actionSize;
    checkLength(observation, s * obs, 'observation');
    checkLength(action, s * act, 'action');
    checkLength(reward, s, 'reward');
    checkLength(nextObservation, s * obs, 'nextObservation');
    checkLength(mask, s, 'mask');
    if (this.#staged === this.#stagingRows) this.flush();
    const f = this.rowSize;
    for (let seed = 0; seed < s; seed++) {
      let at = (seed * this.#stagingRows + this.#staged) * f;
      for (let i = 0; i < obs; i++) this.#staging[at++] = observation[seed * obs + i];
      for (let i = 0; i < act; i++) this.#staging[at++] = action[seed * act + i];
      this.#staging[at++] = reward[seed];
      for (let i = 0; i < obs; i++) this.#staging[at++] = nextObservation[seed * obs + i];
      this.#staging[at++] = mask[seed];
    }
    this.#staged++;
    this.#added++;
  }

  /** Moves staged transitions to the device storage. */
  flush(): void {
    this.#live();
    const k = this.#staged;
    if (k === 0) return;
    const f = this.rowSize;
    this.#stagingTensor ??= empty([this.seeds * this.#stagingRows * f], { device: this.device });
    const rows = this.#stagingTensor.view(0, [this.seeds, k, f]);
    // Pack the first k rows of each seed densely as [S, k, F].
    const packed = k === this.#stagingRows ? this.#staging : new Float32Array(this.seeds * k * f);
    if (packed !== this.#staging) {
      for (let seed = 0; seed < this.seeds; seed++) {
        packed.set(this.#staging.subarray(seed * this.#stagingRows * f, (seed * this.#stagingRows + k) * f), seed * k * f);
      }
    }
    rows.write(packed);
    scatterRows(this.storage, rows, this.#next);
    rows.dispose(); // the view only
    this.#next = (this.#next + k) % this.capacity;
    this.#size = Math.min(this.#size + k, this.capacity);
    this.#staged = 0;
  }

  /** B transitions per seed, the same indices for every seed; views valid until the next sample. */
  sample(batchSize: number, generator: Generator): ReplayBatch {
    this.#live();
    const b = integer(batchSize, 'batchSize', 1);
    if (!(generator instanceof Generator)) throw typeError('an era.Generator', 'generator', generator);
    this.flush();
    if (this.#size === 0) throw rangeError('a buffer holding at least one transition', 'this', 'an empty replay buffer');
    const t = this.#batchTensors(b);
    randomIndices(b, this.#size, { generator, out: t.indices });
    gatherRows(this.storage, t.indices, { out: t.packed, checkIndices: false }); // indices come from randomIndices
    split(t.packed, [this.observationSize, this.actionSize, 1, this.observationSize, 1], { out: t.parts });
    return t;
  }

  #batchTensors(b: number): BatchTensors {
    if (this.#batch && this.#batch.indices.shape[0] === b) return this.#batch;
    this.#disposeBatch();
    const s = this.seeds;
    const dev = { device: this.device };
    const parts = [
      empty([s, b, this.observationSize], dev),
      empty([s, b, this.actionSize], dev),
      empty([s, b, 1], dev),
      empty([s, b, this.observationSize], dev),
      empty([s, b, 1], dev),
    ];
    this.#batch = {
      indices: empty([b], { device: this.device, dtype: 'i32' }),
      packed: empty([s, b, this.rowSize], dev),
      parts,
      observations: parts[0],
      actions: parts[1],
      rewards: parts[2],
      nextObservations: parts[3],
      masks: parts[4],
    };
    return this.#batch;
  }

  /**
   * A host copy of the storage and the ring state (for checkpoints): [S, rows, F] with rows the
   * filled part until the ring has wrapped, then the whole capacity.
   */
  state(): { storage: Float32Array; rows: number; size: number; next: number; added: number } {
    this.flush();
    const all = this.storage.toArray() as Float32Array;
    const rows = this.#size;
    let storage = all;
    if (rows < this.capacity) {
      const f = this.rowSize;
      storage = new Float32Array(this.seeds * rows * f);
      for (let s = 0; s < this.seeds; s++) storage.set(all.subarray(s * this.capacity * f, (s * this.capacity + rows) * f), s * rows * f);
    }
    return { storage, rows, size: this.#size, next: this.#next, added: this.#added };
  }

  /**
   * Restores what `state()` returned, into a buffer of the same or a larger capacity (a run resumed
   * with more steps). A full saved ring restored into a buffer of its capacity continues where it
   * was; otherwise the saved rows fill the first rows of each seed, oldest first, and the ring
   * continues after them, so later writes still replace the oldest transitions first.
   */
  restore(state: { storage: Float32Array; size: number; next: number; added: number }): void {
    this.#live();
    const perSeed = this.rowSize * this.seeds;
    if (!(state.storage instanceof Float32Array) || state.storage.length % perSeed !== 0) {
      throw typeError(`a Float32Array of seeds × capacity × ${this.rowSize} numbers`, 'state.storage', state.storage);
    }
    const saved = state.storage.length / perSeed;
    if (saved > this.capacity) {
      throw rangeError(`a buffer of at most ${this.capacity} transitions per seed (this buffer's capacity)`, 'state.storage', `${saved} per seed`);
    }
    // state() saves exactly the filled rows; `next` is where the saved ring would write next: its
    // oldest row once it had wrapped, or `saved` (0 for a ring filled exactly) before.
    const size = integer(state.size, 'state.size', 0);
    if (size !== saved) throw rangeError(`${saved} (the rows per seed in state.storage)`, 'state.size', size);
    const next = integer(state.next, 'state.next', 0, saved);
    const added = integer(state.added, 'state.added', 0);  // every check before any write
    const oldest = saved > 0 ? next % saved : 0;
    if (saved === this.capacity) {
      this.storage.write(state.storage);
      this.#next = oldest;
    } else {
      const all = new Float32Array(this.storage.size);
      const f = this.rowSize;
      for (let s = 0; s < this.seeds; s++) {
        const rows = state.storage.subarray(s * saved * f, (s + 1) * saved * f);
        all.set(rows.subarray(oldest * f), s * this.capacity * f);
        all.set(rows.subarray(0, oldest * f), (s * this.capacity + saved - oldest) * f);
      }
      this.storage.write(all);
      this.#next = saved;
    }
    this.#size = saved;
    this.#added = added;
    this.#staged = 0;
  }

  #live(): void {
    if (this.#disposed) throw typeError('a live replay buffer', 'this', 'a disposed replay buffer');
  }

  #disposeBatch(): void {
    if (!this.#batch) return;
    for (const t of [this.#batch.indices, this.#batch.packed, ...this.#batch.parts]) t.dispose();
    this.#batch = null;
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#disposeBatch();
    this.#stagingTensor?.dispose();
    this.storage.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

function checkLength(a: ArrayLike<number>, n: number, name: string): void {
  if (a == null || typeof (a as { length?: unknown }).length !== 'number') throw typeError(`an array of ${n} numbers`, name, a);
  if (a.length !== n) throw rangeError(`an array of ${n} numbers`, name, a);
}
