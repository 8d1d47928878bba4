import {expect} from 'chai';
import {EVERY_COOKIE, FlowTable, entryToJson} from '../../../../src/flows/flow-table.js';
import {rehearseTakeover} from '../../../../src/flows/service/rehearsal.js';
import {OFP, applyActions, flowMod, match, output} from '../../../../src/openflow/codec.js';

describe('rehearseTakeover', () => {
  it("takes the takeover's path over copies of the entries: every flow decoded, keyed and found in line; the entries untouched", () => {
    const table = new FlowTable();
    for (let i = 0; i < 250; i++) {
      table.apply(flowMod({
        command: OFP.OFPFC_ADD, priority: 100 + (i % 7), cookie: BigInt(i), idleTimeout: i % 3 === 0 ? 30 : 0,
        match: match({in_port: 1 + (i % 4), eth_type: 0x800, ipv4_dst: `10.0.${i >> 8}.${i & 255}`}),
        instructions: [applyActions(output(2 + (i % 3)))],
      }));
    }
    const entries = table.entries();
    const before = JSON.stringify(entries.map(entryToJson));
    expect(rehearseTakeover(entries, EVERY_COOKIE)).to.equal(250); // in three flow-stats replies
    expect(JSON.stringify(entries.map(entryToJson))).to.equal(before);
    expect(table.size).to.equal(250);
  });
});
