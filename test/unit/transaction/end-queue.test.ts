import assert from 'node:assert/strict';
import { FakeClock, type Clock } from '../../../src/clock.ts';
import { EndQueue } from '../../../src/transaction/end-queue.ts';

function waiter(log: string[], name: string) {
  return { endDue: () => log.push(name) };
}

describe('transaction: the end timers, one queue a duration (RFC 3261 §17: Timer D, I, J, K, L, M)', () => {
  it('ends each entry its duration after it was added, in order, on one clock timer', () => {
    const clock = new FakeClock(1000);
    const q = new EndQueue(clock, 32_000);
    const log: string[] = [];
    q.add(waiter(log, 'a'));
    clock.advance(10);
    q.add(waiter(log, 'b'));
    q.add(waiter(log, 'c'));
    assert.equal(clock.pending, 1, 'one clock timer for the queue');
    clock.advance(31_989);
    assert.deepEqual(log, []);
    clock.advance(1);
    assert.deepEqual(log, ['a']);
    clock.advance(9);
    assert.deepEqual(log, ['a']);
    clock.advance(1);
    assert.deepEqual(log, ['a', 'b', 'c']);
    assert.equal(q.size, 0);
    assert.equal(clock.pending, 0, 'an empty queue leaves no timer');
  });

  it('cancels an entry by its ticket; the last one cancelled clears the clock timer', () => {
    const clock = new FakeClock();
    const q = new EndQueue(clock, 5000);
    const log: string[] = [];
    const a = q.add(waiter(log, 'a'));
    const b = q.add(waiter(log, 'b'));
    q.cancel(a);
    q.cancel(a); // twice: nothing more
    assert.equal(q.size, 1);
    clock.advance(5000);
    assert.deepEqual(log, ['b']);
    q.cancel(b); // already fired: nothing
    const c = q.add(waiter(log, 'c'));
    assert.equal(clock.pending, 1);
    q.cancel(c);
    assert.equal(clock.pending, 0);
    assert.equal(q.size, 0);
    clock.advance(10_000);
    assert.deepEqual(log, ['b']);
  });

  it('keeps tickets right across compaction of a long queue', () => {
    const clock = new FakeClock();
    const q = new EndQueue(clock, 10_000);
    const fired: number[] = [];
    const tickets: number[] = [];
    for (let i = 0; i < 5000; i++) {
      const n = i;
      tickets.push(q.add({ endDue: () => fired.push(n) }));
      if (i % 2 === 1) clock.advance(1); // two entries a millisecond: entry i is due at floor(i/2) + 10,000
    }
    clock.advance(11_300 - clock.time); // 0..2601 fire; past the half, the fired part is compacted away
    assert.equal(fired.length, 2602);
    for (const i of [2603, 3000, 4999]) q.cancel(tickets[i]!);
    q.cancel(tickets[10]!); // fired long ago: nothing
    assert.equal(q.size, 5000 - 2602 - 3);
    clock.advance(10_000);
    assert.equal(fired.length, 4997);
    assert.ok(!fired.includes(2603) && !fired.includes(3000) && !fired.includes(4999));
    assert.deepEqual(fired, [...fired].sort((x, y) => x - y), 'in the order they were added');
    assert.equal(clock.pending, 0);
  });

  it('holds no entry beyond its duration when the wall clock goes back', () => {
    let now = 1_000_000;
    const pending: { fn: (a: unknown) => void; arg: unknown; ms: number }[] = [];
    const clock: Clock = {
      now: () => now,
      set: (fn, ms, arg) => { pending.push({ fn: fn as (a: unknown) => void, arg, ms }); return pending.length; },
      clear: () => {},
    };
    const q = new EndQueue(clock, 32_000);
    const log: string[] = [];
    q.add(waiter(log, 'a'));
    now -= 3_600_000; // an hour back, then the timer fires 32 s later
    now += 32_000;
    const t = pending.shift()!;
    assert.equal(t.ms, 32_000);
    t.fn(t.arg);
    assert.deepEqual(log, ['a']);
  });

  it('keeps the order when an entry that fires adds another, and goes on past one that throws', () => {
    const clock = new FakeClock();
    const errors: unknown[] = [];
    const q = new EndQueue(clock, 1000, (e) => errors.push(e));
    const log: string[] = [];
    q.add({ endDue: () => { log.push('a'); q.add(waiter(log, 'c')); } });
    q.add({ endDue: () => { throw new Error('boom'); } });
    clock.advance(10);
    q.add(waiter(log, 'b')); // due 10 ms after a: not late behind c's full second
    clock.advance(990);
    assert.deepEqual(log, ['a']);
    assert.equal(errors.length, 1);
    clock.advance(10);
    assert.deepEqual(log, ['a', 'b']);
    clock.advance(990);
    assert.deepEqual(log, ['a', 'b', 'c']);
    assert.equal(clock.pending, 0);
  });

  it('lets an entry that fires add to the queue', () => {
    const clock = new FakeClock();
    const q = new EndQueue(clock, 1000);
    const log: string[] = [];
    q.add({ endDue: () => { log.push('a'); q.add(waiter(log, 'b')); } });
    clock.advance(1000);
    assert.deepEqual(log, ['a']);
    assert.equal(clock.pending, 1);
    clock.advance(1000);
    assert.deepEqual(log, ['a', 'b']);
    assert.equal(clock.pending, 0);
  });

  it('holds any entry with its own due callback (the layer\'s kept answers: their keys), and clear() drops them all', () => {
    const clock = new FakeClock();
    const due: string[] = [];
    const q = new EndQueue<string>(clock, 1000, undefined, (k) => due.push(k));
    q.add('k1');
    clock.advance(500);
    q.add('k2');
    clock.advance(500);
    assert.deepEqual(due, ['k1']);
    q.add('k3');
    q.clear();
    assert.equal(q.size, 0);
    assert.equal(clock.pending, 0, 'no clock timer left');
    clock.advance(5000);
    assert.deepEqual(due, ['k1'], 'nothing fires after clear()');
    q.add('k4');
    clock.advance(1000);
    assert.deepEqual(due, ['k1', 'k4'], 'usable again');
  });
});
