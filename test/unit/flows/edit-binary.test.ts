/**
 * The binary form of table edits that deltas carry: whatever a table can hold comes back the same,
 * and bytes that are not a run of edits are refused in words (never a crash, never a wrong edit).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { decodeEdits, encodeEdits } from '../../../src/flows/edit-binary.js';
import { FlowTable, editsOf, normalizeEntry, type FlowEntry, type TableEdit } from '../../../src/flows/flow-table.js';
import { JsonShapeError } from '../../../src/flows/json.js';
import { deviceId, parseBackupMessage } from '../../../src/flows/mirror.js';
import { OFP, applyActions, flowMod, match, output, setField } from '../../../src/openflow/codec.js';
import { richAdd, smallFlowMod } from '../../helpers/flows-arbitraries.js';
import { instruction as anyInstruction, match as anyMatch } from '../../helpers/openflow-arbitraries.js';

/** The edits a table's changes make (puts of what it holds, and dels of what went), in order. */
function editsOfTable(mods: Parameters<FlowTable['apply']>[0][]): TableEdit[] {
  const t = new FlowTable();
  const edits: TableEdit[] = [];
  for (const fm of mods) {
    const r = t.apply(fm);
    if (r.ok) edits.push(...editsOf(r.changes));
  }
  return edits;
}

const someEdits: TableEdit[] = editsOfTable([
  flowMod({ priority: 10, match: match({ in_port: 1, eth_type: 0x800, ipv4_dst: '10.0.0.1' }), instructions: [applyActions(output(2))] }),
  flowMod({ priority: 11, cookie: 0xf10e000000000001n, idleTimeout: 30, hardTimeout: 60, flags: OFP.OFPFF_SEND_FLOW_REM, match: match({ eth_dst: '00:00:00:00:00:01' }),
    instructions: [applyActions(setField({ field: 'vlan_vid', value: 0x1005 }), output(3))] }),
  flowMod({ command: OFP.OFPFC_DELETE_STRICT, priority: 10, match: match({ in_port: 1, eth_type: 0x800, ipv4_dst: '10.0.0.1' }) }),
]);

describe('binary table edits (delta runs)', function () {
  it('puts and dels come back as they went, for anything a table holds (raw fields and every action included)', function () {
    expect(someEdits.map((e) => e.op)).to.deep.equal(['put', 'put', 'del']);
    expect(decodeEdits(encodeEdits(someEdits)!)).to.deep.equal(someEdits);
    const anyFlowMod = fc.oneof(
      richAdd, smallFlowMod,
      fc.record({ fm: richAdd, match: anyMatch, instructions: fc.array(anyInstruction, { maxLength: 3 }) })
        .map(({ fm, match: m, instructions }) => ({ ...fm, command: OFP.OFPFC_ADD, tableId: fm.tableId % 250, match: m, instructions })),
    );
    let exact = 0;
    fc.assert(fc.property(fc.array(anyFlowMod, { maxLength: 12 }), (mods) => {
      const edits = editsOfTable(mods);
      const bytes = encodeEdits(edits);
      // Not written (JSON carries them): only edits with experimenter data of an odd size.
      if (!bytes) {
        expect(JSON.stringify(edits, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))).to.include('"EXPERIMENTER"');
        return;
      }
      exact++;
      expect(decodeEdits(bytes)).to.deep.equal(edits);
    }), { numRuns: 1500 });
    expect(exact).to.be.greaterThan(1000);
  });

  it('an experimenter action or instruction whose data is not a multiple of 8 bytes is left to JSON', function () {
    const entry = { ...(someEdits[0] as { entry: FlowEntry }).entry };
    for (const instructions of [
      [applyActions({ type: 'EXPERIMENTER', experimenter: 0x2320, data: Buffer.from([1, 2, 3]) })],
      [{ type: 'EXPERIMENTER' as const, experimenter: 0x2320, data: Buffer.alloc(12) }],
    ]) expect(encodeEdits([{ op: 'put', entry: { ...entry, instructions } }])).to.equal(undefined);
    const aligned = [{ op: 'put' as const, entry: normalizeEntry({ ...entry, instructions: [applyActions({ type: 'EXPERIMENTER', experimenter: 0x2320, data: Buffer.alloc(16, 7) })] }) }];
    expect(decodeEdits(encodeEdits(aligned)!)).to.deep.equal(aligned);
  });

  it('bytes that are not a run of edits are refused naming the record, whatever they are', function () {
    const bytes = encodeEdits(someEdits)!;
    const refusal = (b: Buffer) => {
      try {
        decodeEdits(b);
        return undefined;
      } catch (error) {
        expect(error).to.be.instanceOf(JsonShapeError);
        return (error as JsonShapeError).message;
      }
    };
    expect(refusal(bytes.subarray(0, bytes.length - 3))).to.match(/^bin\[2\]: /);
    const lying = Buffer.from(bytes);
    lying.writeUInt16BE(0xffff, 0);
    expect(refusal(lying)).to.match(/^bin\[0\]: .*runs past the end/);
    const unknownOp = Buffer.from(bytes);
    unknownOp[2] = 7;
    expect(refusal(unknownOp)).to.match(/^bin\[0\]: .*edit op 7 is neither put/);
    const allTables = Buffer.from(bytes);
    allTables[3] = OFP.OFPTT_ALL;
    expect(refusal(allTables)).to.match(/^bin\[0\]: .*a flow lives in tables 0\.\.254/);
    expect(() => decodeEdits(bytes, 'bin', 2)).to.throw(JsonShapeError, 'more than 2 edits');
    // Any corruption: refused in words, or (a byte the format does not constrain) read as edits.
    fc.assert(fc.property(fc.nat(bytes.length - 1), fc.integer({ min: 0, max: 255 }), (at, value) => {
      const b = Buffer.from(bytes);
      b[at] = value;
      const message = refusal(b);
      if (message !== undefined) expect(message).to.match(/^bin\[\d\]: /);
    }), { numRuns: 2000 });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (random) => {
      const message = refusal(Buffer.from(random));
      if (message !== undefined) expect(message).to.match(/^bin(\[\d+\])?: /);
    }), { numRuns: 2000 });
  });

  it('a delta carries its edits as base64 in bin, or as JSON in changes: anything else is malformed', function () {
    const head = { v: 1, type: 'flow-delta', device: deviceId(1n), term: 65537, from: 1, version: 3 };
    const bin = encodeEdits(someEdits)!.toString('base64');
    const parsed = parseBackupMessage({ ...head, bin });
    expect(parsed.ok && parsed.message.type === 'flow-delta' && parsed.message.edits).to.deep.equal(someEdits);
    const reasons = [
      { ...head, bin: `${bin.slice(0, -4)}!!!!` },
      { ...head, bin: bin.slice(1) },
      { ...head, bin: 42 },
      { ...head, bin, changes: [] },
      { ...head, bin: encodeEdits(someEdits)!.subarray(0, 30).toString('base64') },
    ].map((m) => {
      const p = parseBackupMessage(m);
      return p.ok ? 'accepted' : p.reason;
    });
    expect(reasons).to.deep.equal([
      'bin: expected base64 text', 'bin: expected base64 text', 'bin: expected base64 text', 'bin: a delta carries changes or bin, not both',
      reasons[4],
    ]);
    expect(reasons[4]).to.match(/^bin\[0\]: /);
  });
});
