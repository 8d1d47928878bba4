import {expect} from 'chai';
import {TurnQueue} from '../../../../src/flows/service/turns.js';

describe('TurnQueue', () => {
  it('gives one turn at a time, in the order asked when nobody is urgent', async () => {
    const turns = new TurnQueue();
    const log: string[] = [];
    const work = async (name: string) => {
      const end = await turns.take();
      log.push(`${name} starts`);
      await new Promise((r) => setImmediate(r));
      log.push(`${name} ends`);
      end();
    };
    await Promise.all([work('a'), work('b'), work('c')]);
    expect(log).to.deep.equal(['a starts', 'a ends', 'b starts', 'b ends', 'c starts', 'c ends']);
  });

  it('hands the next turn to an urgent waiter, asking at the hand-over', async () => {
    const turns = new TurnQueue();
    const endFirst = await turns.take();
    let cUrgent = false;
    const order: string[] = [];
    const b = turns.take(() => false).then((end) => { order.push('b'); end(); });
    const c = turns.take(() => cUrgent).then((end) => { order.push('c'); end(); });
    expect(turns.waiting).to.equal(2);
    cUrgent = true; // writers arrived for c while it waited
    endFirst();
    await Promise.all([b, c]);
    expect(order).to.deep.equal(['c', 'b']);
    expect(turns.waiting).to.equal(0);
  });

  it('ends a turn once, however often its end is called', async () => {
    const turns = new TurnQueue();
    const end = await turns.take();
    const second = turns.take();
    end();
    const endSecond = await second;
    end(); // a late second call must not end the second holder's turn
    let thirdStarted = false;
    const third = turns.take().then((e) => { thirdStarted = true; e(); });
    await new Promise((r) => setImmediate(r));
    expect(thirdStarted).to.equal(false);
    endSecond();
    await third;
    expect(thirdStarted).to.equal(true);
  });
});
