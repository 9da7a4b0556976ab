import assert from 'node:assert/strict';
import { FrameLossTracker, type FrameLossStats } from '../../../src/media/frame-loss.ts';

describe('media/frame-loss (the depacketizers\' loss rule)', () => {
  const fresh = (): { stats: FrameLossStats; loss: FrameLossTracker } => {
    const stats = { frames: 0, keyframes: 0, droppedFrames: 0, lostPackets: 0 };
    return { stats, loss: new FrameLossTracker(stats) };
  };

  it('waits for a keyframe from the start: an inter frame is dropped and a keyframe asked for once', () => {
    const { stats, loss } = fresh();
    assert.equal(loss.admit(false), false);
    assert.equal(loss.takeKeyframeRequest(), true);
    assert.equal(loss.takeKeyframeRequest(), false);
    assert.equal(loss.admit(true), true);
    assert.equal(loss.admit(false), true);
    assert.deepEqual(stats, { frames: 2, keyframes: 1, droppedFrames: 1, lostPackets: 0 });
  });

  it('a frame that refers to none (parameter sets) passes while waiting, and does not end the wait', () => {
    const { loss } = fresh();
    assert.equal(loss.admit(false, true), true);
    assert.equal(loss.admit(false), false);
  });

  it('a sequence gap counts the lost packets and breaks the chain until a keyframe; an older packet is refused', () => {
    const { stats, loss } = fresh();
    assert.equal(loss.packet(65534), 0);
    assert.equal(loss.admit(true), true);
    assert.equal(loss.packet(1), 2); // 65535 and 0 never came
    assert.equal(loss.packet(0), -1);
    assert.equal(loss.takeKeyframeRequest(), true);
    assert.equal(loss.admit(false), false);
    assert.equal(stats.lostPackets, 2);
  });

  it('a dropped frame breaks the chain and asks for a keyframe', () => {
    const { stats, loss } = fresh();
    loss.admit(true);
    loss.dropped();
    assert.equal(loss.takeKeyframeRequest(), true);
    assert.equal(loss.admit(false), false);
    assert.equal(stats.droppedFrames, 2);
  });
});
