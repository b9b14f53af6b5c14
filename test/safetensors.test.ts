/**
 * safetensors and atomic writes: round trips (F32, I32, BF16, 0-d and empty tensors, metadata),
 * the layout the reference library writes and demands (header padded to 8 bytes, offsets that
 * tile the data from 0, larger elements first), a file in the reference's own documented form,
 * a writer that dies half-way leaving the old file and no temporary file, and malformed or
 * truncated files rejected with errors that name the path.
 */
import { expect } from 'chai';
import { chmodSync, lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { decodeSafetensors, encodeSafetensors, readSafetensors, writeSafetensors } from '../lib/nn/safetensors.js';
import { atomicWrite, atomicWriteFile, isAtomicTemp, writeFully } from '../lib/util/atomic-write.js';
import { expectThrowsNaming, randomArray, testSeed } from './helpers.js';

const seed = testSeed();

describe('safetensors', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'era-st-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const sample = () => ({
    'w.f32': { data: randomArray(12, seed), shape: [3, 4] },
    'idx': { data: new Int32Array([-1, 0, 7]), shape: [3] },
    'h.bf16': { data: new Uint16Array([0x3f80, 0xbf80, 0x7fc0]), shape: [1, 3] },
    'scalar': { data: new Float32Array([2.5]), shape: [] },
    'empty': { data: new Float32Array(0), shape: [2, 0] },
  });

  it('round-trips F32, I32 and BF16 tensors (0-d and empty ones too) with metadata', async () => {
    const file = path.join(dir, 'a.safetensors');
    const tensors = sample();
    await writeSafetensors(file, tensors, { format: 'pt', note: 'ünïcode' });
    const back = await readSafetensors(file);
    expect(back.metadata).to.deep.equal({ format: 'pt', note: 'ünïcode' });
    expect([...back.tensors.keys()].sort()).to.deep.equal(Object.keys(tensors).sort());
    for (const [name, t] of Object.entries(tensors)) {
      const got = back.tensors.get(name)!;
      expect(got.shape, name).to.deep.equal(t.shape);
      expect(got.data.constructor, name).to.equal(t.data.constructor);
      expect(Array.from(got.data), name).to.deep.equal(Array.from(t.data));
    }
    expect(back.tensors.get('h.bf16')!.dtype).to.equal('BF16');
    expect(back.tensors.get('idx')!.dtype).to.equal('I32');
  });

  it("a tensor or metadata key named '__proto__' is an entry like any other", async () => {
    const file = path.join(dir, 'proto.safetensors');
    const tensors = new Map([['__proto__', { data: new Float32Array([1, 2]) }], ['b', { data: new Float32Array([3]) }]]);
    await writeSafetensors(file, tensors, { ['__proto__']: 'x', b: 'c' });
    const back = await readSafetensors(file);
    expect([...back.tensors.keys()].sort()).to.deep.equal(['__proto__', 'b']);
    expect(Array.from(back.tensors.get('__proto__')!.data)).to.deep.equal([1, 2]);
    expect(Object.keys(back.metadata).sort()).to.deep.equal(['__proto__', 'b']);
    expect(back.metadata.__proto__).to.equal('x');
  });

  it("lays the file out as the reference library does (so Python's safetensors loads it)", async () => {
    const file = path.join(dir, 'b.safetensors');
    await writeSafetensors(file, sample());
    const bytes = readFileSync(file);
    const n = Number(bytes.readBigUInt64LE(0));
    expect(n % 8, 'header padded to 8 bytes').to.equal(0);
    const text = bytes.subarray(8, 8 + n).toString('utf8');
    expect(text.startsWith('{')).to.equal(true);
    expect(/^[^ ]* *$/.test(text), 'padding is trailing spaces').to.equal(true);
    const header = JSON.parse(text) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
    expect(header).to.not.have.property('__metadata__'); // none given: none written
    const entries = Object.entries(header).sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0] || a[1].data_offsets[1] - b[1].data_offsets[1]);
    let at = 0;
    for (const [name, e] of entries) {
      expect(e.data_offsets[0], `${name} starts where the previous ended`).to.equal(at);
      const size = { F32: 4, I32: 4, BF16: 2 }[e.dtype]!;
      expect(e.data_offsets[1] - e.data_offsets[0]).to.equal(size * e.shape.reduce((a, b) => a * b, 1));
      expect(e.data_offsets[0] % size, `${name} aligned`).to.equal(0);
      at = e.data_offsets[1];
    }
    expect(at).to.equal(bytes.length - 8 - n);
    // larger elements first: the bf16 tensor comes last
    expect(entries[entries.length - 1][0]).to.equal('h.bf16');
  });

  it('reads the reference documentation\'s example file', () => {
    const json = '{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}';
    const head = Buffer.alloc(8);
    head.writeBigUInt64LE(BigInt(json.length));
    const data = Buffer.alloc(16);
    data.writeInt32LE(7, 4);
    const f = decodeSafetensors(Buffer.concat([head, Buffer.from(json), data]));
    expect(f.tensors.get('test')!.shape).to.deep.equal([2, 2]);
    expect(Array.from(f.tensors.get('test')!.data)).to.deep.equal([0, 7, 0, 0]);
    expect(f.metadata).to.deep.equal({});
  });

  it('a writer that fails half-way leaves the old file intact and no temporary file', async () => {
    const file = path.join(dir, 'ckpt.safetensors');
    await writeSafetensors(file, { a: { data: new Float32Array([1, 2, 3]) } });
    const old = readFileSync(file);
    const chunks = encodeSafetensors({ a: { data: randomArray(1000, seed) } });
    const whole = Buffer.concat(chunks);
    const err = await atomicWrite(file, async (fh) => {
      await writeFully(fh, whole.subarray(0, whole.length >> 1));
      throw new Error('simulated crash');
    }).catch((e: Error) => e);
    expect((err as Error).message).to.equal('simulated crash');
    expect(readFileSync(file).equals(old)).to.equal(true);
    expect(readdirSync(dir)).to.deep.equal(['ckpt.safetensors']);
    // and a complete write replaces it
    await atomicWriteFile(file, chunks);
    expect(readFileSync(file).equals(whole)).to.equal(true);
    expect(readdirSync(dir)).to.deep.equal(['ckpt.safetensors']);
    expect(isAtomicTemp(`.ckpt.safetensors.${process.pid}.0a1b2c.tmp`, file)).to.equal(true);
    expect(isAtomicTemp('ckpt.safetensors', file)).to.equal(false);
  });

  it('writes through a symlink (the link stays) and keeps an existing file\'s permission bits', async () => {
    const real = path.join(dir, 'real.safetensors');
    const link = path.join(dir, 'link.safetensors');
    await writeSafetensors(real, { a: { data: new Float32Array([1]) } });
    chmodSync(real, 0o600);
    symlinkSync(real, link);
    await writeSafetensors(link, { a: { data: new Float32Array([2]) } });
    expect(lstatSync(link).isSymbolicLink(), 'still a link').to.equal(true);
    expect(Array.from((await readSafetensors(real)).tensors.get('a')!.data)).to.deep.equal([2]);
    expect(statSync(real).mode & 0o777).to.equal(0o600);
    expect(readdirSync(dir).sort()).to.deep.equal(['link.safetensors', 'real.safetensors']);
  });

  it('a failed write into a missing directory leaves nothing behind', async () => {
    const err = await writeSafetensors(path.join(dir, 'no', 'such', 'x.safetensors'), { a: { data: new Float32Array(1) } }).catch((e: NodeJS.ErrnoException) => e);
    expect((err as NodeJS.ErrnoException).code).to.equal('ENOENT');
    expect(readdirSync(dir)).to.deep.equal([]);
  });

  describe('corrupt and truncated files are rejected with an error naming the path', () => {
    const good = () => Buffer.concat(encodeSafetensors({ a: { data: new Float32Array([1, 2, 3, 4]), shape: [2, 2] }, b: { data: new Int32Array([5]) } }, { k: 'v' }));
    function header(json: string, dataBytes = 0): Buffer {
      const h = Buffer.alloc(8);
      h.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
      return Buffer.concat([h, Buffer.from(json), Buffer.alloc(dataBytes)]);
    }
    const CASES: [string, () => Buffer, RegExp][] = [
      ['an empty file', () => Buffer.alloc(0), /too short/],
      ['a file cut inside the header', () => good().subarray(0, 20), /truncated/],
      ['a file cut inside the data', () => good().subarray(0, good().length - 3), /truncated/],
      ['extra bytes after the data', () => Buffer.concat([good(), Buffer.alloc(4)]), /after the last tensor/],
      ['a header length above 100 MB', () => { const b = good(); b.writeBigUInt64LE(2n ** 40n); return b; }, /limit/],
      ['a header that is not JSON', () => header('{"a": ', 0), /not UTF-8 JSON/],
      ['a header that is an array', () => header('[1, 2]'), /not a JSON object/],
      ['an unknown dtype', () => header('{"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}', 8), /dtype/],
      ['offsets that disagree with the shape', () => header('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', 8), /data_offsets/],
      ['a gap between tensors', () => header('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}', 12), /gap or an overlap/],
      ['overlapping tensors', () => header('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', 8), /gap or an overlap/],
      ['a negative dimension', () => header('{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', 4), /shape/],
      ['metadata that is not a string map', () => header('{"__metadata__":{"k":1}}'), /not a string/],
    ];
    for (const [title, bytes, pattern] of CASES) {
      it(title, async () => {
        const file = path.join(dir, 'bad.safetensors');
        writeFileSync(file, bytes());
        const err = await readSafetensors(file).catch((e: Error) => e);
        expect(err).to.be.instanceOf(RangeError);
        const msg = (err as Error).message;
        expect(msg).to.include('for path');
        expect(msg).to.include(file);
        expect(msg).to.match(pattern);
      });
    }
    it('(a good file of the same family reads)', () => {
      expect(decodeSafetensors(good()).metadata).to.deep.equal({ k: 'v' });
    });
  });

  it('bad arguments to the writer name them', () => {
    expectThrowsNaming(() => encodeSafetensors({ a: { data: [1, 2] as never } }), TypeError, "tensors['a'].data");
    expectThrowsNaming(() => encodeSafetensors({ a: { data: new Float32Array(3), shape: [2, 2] } }), RangeError, "tensors['a'].data");
    expectThrowsNaming(() => encodeSafetensors({ a: { data: new Float32Array(3), dtype: 'I32' } }), TypeError, "tensors['a'].dtype");
    expectThrowsNaming(() => encodeSafetensors({ a: { data: new Float32Array(1) } }, { k: 1 as never }), TypeError, "metadata['k']");
    expectThrowsNaming(() => encodeSafetensors({ __metadata__: { data: new Float32Array(1) } }), RangeError, 'tensors');
  });
});
