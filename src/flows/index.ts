/**
 * Flow programming and mirroring, pure: the flow table with OpenFlow 1.3 semantics, takeover
 * reconciliation, the replication protocol (master logs, slave mirrors, backup messages), and the
 * two human syntaxes (Ryu ofctl_rest JSON, ovs-ofctl text).
 */
export * from './flow-table.js';
export * from './reconcile.js';
export * from './mirror.js';
export {
  FlowRequestError, clearFlowsFlowMod, flowStatsLength, formatFlowStatsReply, formatRyuActions, formatRyuMatch,
  parseDpid, parseFlowEntryRequest, parseFlowStatsFilter, parseRyuActions, parseRyuMatch, toRyuJson,
  type FlowEntryCommand, type FlowEntryRequest, type RyuFlowStats,
} from './ofctl-rest.js';
export {
  FlowSyntaxError, formatOfctlActions, formatOfctlFlow, formatOfctlMatch, parseActions as parseOfctlActions, parseOfctlFlow,
  type FormatOptions, type OfctlCommand,
} from './ofctl-syntax.js';
export { JsonShapeError } from './json.js';
export { MatchValueError, normalizeMatch } from './match-bits.js';
