/**
 * `era info` is where a user looks when the setup is wrong, so a bad ERA_DEVICE (a device that is
 * not there, or an unknown name) still prints the diagnostics, then the error, and exits 1;
 * era.info() reports the error in `backendError` rather than throwing.
 */
import { expect } from 'chai';

import { envWithoutCuda, evalInChild, libModule, runNode } from './helpers.js';

describe('era info with a bad ERA_DEVICE', () => {
  for (const [device, error] of [
    ['cuda', /^era: ERA_DEVICE=cuda but CUDA is not usable: \S/m],
    ['gpu', /^era: Expected one of 'cpu' or 'cuda' for the environment variable ERA_DEVICE but received 'gpu'/m],
  ] as const) {
    it(`ERA_DEVICE=${device}: prints the diagnostics, then the error, and exits 1`, () => {
      const r = runNode([libModule('cli/era'), 'info'], { env: envWithoutCuda({ ERA_DEVICE: device }) });
      expect(r.status, r.stderr).to.equal(1);
      expect(r.stdout).to.match(/^backend: +cpu \(without ERA_DEVICE; see the error below\)$/m);
      expect(r.stdout).to.match(/^cuda: +unavailable \(.+\)$/m);
      expect(r.stderr).to.match(error);
    });
  }

  it('era.info() returns backendError instead of throwing, and only then', () => {
    const got = evalInChild('index', `(m) => ({ info: m.default.info(), threw: (() => { try { m.default.zeros([1]); return null; } catch (e) { return e.message; } })() })`,
      envWithoutCuda({ ERA_DEVICE: 'cuda' })) as { info: { backend: string; backendError?: string }; threw: string | null };
    expect(got.info.backend).to.equal('cpu');
    expect(got.info.backendError).to.match(/^ERA_DEVICE=cuda but CUDA is not usable: \S/);
    // The calls that need the default device still refuse, with the same message.
    expect(got.threw).to.equal(got.info.backendError);
    const fine = evalInChild('index', '(m) => m.default.info()', envWithoutCuda({ ERA_DEVICE: 'cpu' })) as { backend: string; backendError?: string };
    expect(fine.backend).to.equal('cpu');
    expect(fine).to.not.have.property('backendError');
  });
});
