/**
 * `cmmc-db report` as a library: collect the data (one JSON document), render it as one
 * self-contained HTML page, and open that page in a browser where there is one.
 */
export { collectReport, seriesOver, NEEDS_SERVER, type CollectOptions } from './collect.js';
export { renderHtml, loadAssets, type ReportAssets } from './html.js';
export { layoutGraph, revisionGraphSvg, backupsTimelineSvg, type GraphLayout } from './svg.js';
export { buildEvidence, readTableFacts, readTenantFacts, readAuditFacts, EVIDENCE_NOTICE, type TenantFacts, type AuditFacts, type RecordFacts } from './evidence.js';
export { openInBrowser, type OpenResult } from './open.js';
export * from './types.js';
