export { RevisionGraph, type RevisionNode } from './graph.js';
export { drawGraph, type DrawnLine } from './draw.js';
export * from './errors.js';
