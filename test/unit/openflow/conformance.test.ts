/**
 * Golden tests: the OpenFlow 1.3 captures of ../shared/conformance/openflow13 (from Ryu), one
 * generated test per capture. Each capture is checked against MANIFEST.tsv (length, sha256,
 * type byte), decoded and compared field by field with its Ryu JSON, re-encoded and compared
 * byte for byte, and, where the JSON describes every field, encoded from the JSON too.
 *
 * Captures whose vendor extensions flowkeeper keeps as bytes are listed in ROUND_TRIP_ONLY with
 * the reason; they are reported at the end of every run. A listed capture must really need the
 * listing, and an unlisted capture that fails is a failure.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { decodeMessage, encodeMessage, messageTypeName } from '../../../src/openflow/codec.js';
import { diff, hasRaw, parseJsonBig, ryuToMessage } from '../../helpers/openflow-ryu.js';

const here = dirname(fileURLToPath(import.meta.url));
const DIR = process.env.FLOWKEEPER_CONFORMANCE_DIR
  ?? resolve(here, '../../../../shared/conformance/openflow13');

const NX_ACTIONS = 'Nicira NX action(s) kept as raw experimenter bytes (Ryu decodes them; flowkeeper does not)';

/**
 * Captures compared only in part: every field except the listed extension is compared with the
 * JSON; the extension is compared by experimenter id, NX subtype and length; the whole message
 * must re-encode byte for byte. They cannot be encoded from the JSON.
 */
const ROUND_TRIP_ONLY: Record<string, string> = {
  'libofproto-OFP13-flow_mod.packet': `${NX_ACTIONS}: learn`,
  'libofproto-OFP13-flow_mod_conjunction.packet': `${NX_ACTIONS}: conjunction`,
  'ovs-ofctl-of13-action_conjunction.packet': `${NX_ACTIONS}: conjunction`,
  'ovs-ofctl-of13-action_controller.packet': `${NX_ACTIONS}: controller`,
  'ovs-ofctl-of13-action_controller2.packet': `${NX_ACTIONS}: controller2 (with userdata)`,
  'ovs-ofctl-of13-action_ct.packet': `${NX_ACTIONS}: ct`,
  'ovs-ofctl-of13-action_ct_clear.packet': `${NX_ACTIONS}: ct_clear`,
  'ovs-ofctl-of13-action_ct_exec.packet': `${NX_ACTIONS}: ct with nested set_field`,
  'ovs-ofctl-of13-action_ct_nat.packet': `${NX_ACTIONS}: ct with nested nat (IPv4)`,
  'ovs-ofctl-of13-action_ct_nat_v6.packet': `${NX_ACTIONS}: ct with nested nat (IPv6)`,
  'ovs-ofctl-of13-action_dec_ttl_cnt_ids.packet': `${NX_ACTIONS}: dec_ttl(cnt_ids)`,
  'ovs-ofctl-of13-action_fintimeout.packet': `${NX_ACTIONS}: fin_timeout`,
  'ovs-ofctl-of13-action_learn.packet': `${NX_ACTIONS}: learn`,
  'ovs-ofctl-of13-action_note.packet': `${NX_ACTIONS}: note`,
  'ovs-ofctl-of13-action_output_trunc.packet': `${NX_ACTIONS}: output(max_len) (output_trunc)`,
  'ovs-ofctl-of13-action_resubmit.packet': `${NX_ACTIONS}: resubmit_table`,
  'ovs-ofctl-of13-action_sample.packet': `${NX_ACTIONS}: sample`,
  'ovs-ofctl-of13-action_sample2.packet': `${NX_ACTIONS}: sample2`,
  'ovs-ofctl-of13-action_stack_pop.packet': `${NX_ACTIONS}: stack_pop`,
  'ovs-ofctl-of13-action_stack_push.packet': `${NX_ACTIONS}: stack_push`,
  'ovs-ofctl-of13-match_load_nx_register.packet': `${NX_ACTIONS}: reg_load`,
  'ovs-ofctl-of13-match_move_nx_register.packet': `${NX_ACTIONS}: reg_move`,
};

interface ManifestRow { file: string; typeByte: number; typeName: string; length: number; sha256: string }

function readManifest(): ManifestRow[] {
  const lines = readFileSync(resolve(DIR, 'MANIFEST.tsv'), 'utf8').split('\n').filter((l) => l.trim() !== '');
  const [head, ...rows] = lines;
  expect(head!.split('\t')).to.deep.equal(['file', 'type_byte', 'type_name', 'length', 'sha256']);
  return rows.map((l) => {
    const [file, typeByte, typeName, length, sha256] = l.split('\t');
    return { file: file!, typeByte: Number(typeByte), typeName: typeName!, length: Number(length), sha256: sha256! };
  });
}

function firstDifference(a: Buffer, b: Buffer): string | undefined {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) {
      return `first differing byte at offset ${i}: expected 0x${b[i]!.toString(16).padStart(2, '0')}, `
        + `got 0x${a[i]!.toString(16).padStart(2, '0')} (expected ${b.subarray(i, i + 16).toString('hex')}, got ${a.subarray(i, i + 16).toString('hex')})`;
    }
  }
  return a.length === b.length ? undefined : `lengths differ: got ${a.length}, expected ${b.length} (same up to ${n})`;
}

const present = existsSync(resolve(DIR, 'MANIFEST.tsv'));
const manifest = present ? readManifest() : [];
const outcome = { full: [] as string[], roundTripOnly: [] as string[] };

describe('OpenFlow 1.3 conformance (Ryu captures)', function () {
  after(function () {
    if (!present) return;
    const lines = [
      `\n    conformance: ${outcome.full.length} captures decoded, compared with their JSON and encoded both ways;`,
      `    ${outcome.roundTripOnly.length} compared in part and round-tripped only (listed, not skipped):`,
      ...outcome.roundTripOnly.map((f) => `      - ${f}: ${ROUND_TRIP_ONLY[f]}`),
      '',
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  });

  it('finds the corpus (set FLOWKEEPER_CONFORMANCE_DIR to move it)', function () {
    expect(present, `no MANIFEST.tsv in ${DIR}`).to.equal(true);
  });

  it('MANIFEST.tsv lists every .packet file, and the list of round-trip-only captures only those', function () {
    const files = readdirSync(DIR).filter((f) => f.endsWith('.packet')).sort();
    expect(manifest.map((r) => r.file).sort()).to.deep.equal(files);
    for (const f of Object.keys(ROUND_TRIP_ONLY)) expect(files, `listed ${f} does not exist`).to.include(f);
  });

  for (const row of manifest) {
    const listed = ROUND_TRIP_ONLY[row.file];
    it(`${row.file} (${row.typeName}${listed ? ', round-trip only' : ''})`, function () {
      const bytes = readFileSync(resolve(DIR, row.file));
      // 1. The capture is the one the manifest describes.
      expect(bytes.length, 'length vs MANIFEST.tsv').to.equal(row.length);
      expect(createHash('sha256').update(bytes).digest('hex'), 'sha256 vs MANIFEST.tsv').to.equal(row.sha256);
      expect(bytes[1], 'type byte vs MANIFEST.tsv').to.equal(row.typeByte);
      expect(`OFPT_${messageTypeName(row.typeByte)}`).to.equal(row.typeName);

      // 2. Decoded, it says what Ryu's JSON says, field by field.
      const decoded = decodeMessage(bytes);
      const expected = ryuToMessage(parseJsonBig(readFileSync(resolve(DIR, `${row.file}.json`), 'utf8')));
      const d = diff(expected, decoded);
      expect(d, `decoded message differs from the JSON at ${d}`).to.equal(undefined);

      // 3. Re-encoded, it is the same bytes.
      const again = encodeMessage(decoded);
      const rd = firstDifference(again, bytes);
      expect(rd, `re-encoding the decoded message: ${rd}`).to.equal(undefined);

      // 4. Built from the JSON alone, it is the same bytes too (unless an extension is raw).
      const raw = hasRaw(expected);
      if (listed) {
        expect(raw, `${row.file} is listed as round-trip only but needs no raw comparison: remove it from the list`).to.equal(true);
        outcome.roundTripOnly.push(row.file);
        return;
      }
      expect(raw, `${row.file} holds extensions compared only as raw bytes: list it in ROUND_TRIP_ONLY with the reason`).to.equal(false);
      const fromJson = encodeMessage(expected);
      const jd = firstDifference(fromJson, bytes);
      expect(jd, `encoding the message built from the JSON: ${jd}`).to.equal(undefined);
      outcome.full.push(row.file);
    });
  }
});
