import { expect } from 'chai';
import { applyActions, flowMod, match, output } from '../../../../src/openflow/codec.js';
import { FlowReplicator, Mirror, deviceId, type FlowDelta } from '../../../../src/flows/mirror.js';
import { MirrorTrust } from '../../../../src/flows/service/mirror-trust.js';

const D1 = deviceId(1n);
const D2 = deviceId(2n);

/** A master of `term` with two changes on each of D1 and D2, and the deltas they produced. */
function master(term: number): { rep: FlowReplicator; deltas: FlowDelta[] } {
  const rep = new FlowReplicator({ term });
  const deltas: FlowDelta[] = [];
  for (const device of [D1, D2]) {
    for (let i = 1; i <= 2; i++) {
      const r = rep.apply(device, flowMod({ priority: i, match: match({ in_port: i }), instructions: [applyActions(output(i))] }));
      if (!r.ok || !r.delta) throw new Error('no delta');
      deltas.push(r.delta);
    }
  }
  return { rep, deltas };
}

describe('MirrorTrust (may a takeover take a mirror for the truth?)', function () {
  it('trusts a device only once granted at the term its mirror follows, and says why not before', function () {
    const trust = new MirrorTrust();
    const mirror = new Mirror();
    expect(trust.of(D1, mirror)).to.deep.equal({ trusted: false, why: 'no mirror of this switch' });

    const { rep } = master(3);
    mirror.receive(rep.device(D1).snapshot());
    mirror.receive(rep.device(D2).snapshot());
    expect(trust.of(D1, mirror)).to.deep.equal({ trusted: false, why: 'no snapshot from a master yet' });

    trust.grant(D1, 3);
    expect(trust.of(D1, mirror).trusted).to.equal(true);
    expect(trust.of(D1, mirror).why).to.match(/in sync with the master of term 3/);
    expect(trust.of(D2, mirror).trusted, 'granted per device').to.equal(false);
    expect(trust.size).to.equal(1);

    // Granted in an older term than the mirror now follows: not trusted.
    trust.grant(D2, 2);
    expect(trust.of(D2, mirror)).to.deep.equal({ trusted: false, why: "no snapshot of term 3 listing this instance among the master's slaves" });
  });

  it('a mirror waiting for a snapshot (a gap) is never trusted, whatever was granted', function () {
    const trust = new MirrorTrust();
    const mirror = new Mirror();
    const rep = new FlowReplicator({ term: 1 });
    const change = (i: number) => {
      const r = rep.apply(D1, flowMod({ priority: i, match: match({ in_port: i }), instructions: [applyActions(output(i))] }));
      if (!r.ok || !r.delta) throw new Error('no delta');
      return r.delta;
    };
    change(1);
    mirror.receive(rep.device(D1).snapshot()); // at version 1
    trust.grant(D1, 1);
    expect(trust.of(D1, mirror).trusted).to.equal(true);
    change(2);
    mirror.receive(change(3)); // version 3 without 2: a gap
    expect(mirror.awaitingSnapshot()).to.include(D1);
    expect(trust.of(D1, mirror)).to.deep.equal({ trusted: false, why: 'a gap in the deltas, not repaired by a snapshot yet' });
  });

  it('revoke ends one device\'s trust with its reason; revokeAll ends all, with one reason for every device', function () {
    const trust = new MirrorTrust();
    const mirror = new Mirror();
    const { rep } = master(1);
    mirror.receive(rep.device(D1).snapshot());
    mirror.receive(rep.device(D2).snapshot());
    trust.grant(D1, 1);
    trust.grant(D2, 1);

    expect(trust.revoke(D1, 'the rebase did not start here'), 'it was trusted').to.equal(true);
    expect(trust.revoke(D1, 'again'), 'no longer trusted').to.equal(false);
    expect(trust.of(D1, mirror)).to.deep.equal({ trusted: false, why: 'again' });
    expect(trust.of(D2, mirror).trusted).to.equal(true);

    expect(trust.revokeAll('the bus connection was lost'), 'how many were trusted').to.equal(1);
    expect(trust.reasonForAll).to.equal('the bus connection was lost');
    for (const d of [D1, D2]) expect(trust.of(d, mirror)).to.deep.equal({ trusted: false, why: 'the bus connection was lost' });

    trust.grant(D2, 1);
    trust.clear();
    expect(trust.size).to.equal(0);
    expect(trust.of(D2, mirror).why, 'clear keeps the reason for all').to.equal('the bus connection was lost');
  });
});
