export * from './lexer.js';
