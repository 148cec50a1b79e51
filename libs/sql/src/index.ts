export { createSqlAnalyzer, type SqlAnalyzer, type SqlAnalyzerOptions, type SqlCacheStats } from './analyzer.js';
export { isDangerousFunction } from './dangerous-functions.js';
export { SQL_ERRORS, VigieSqlError, type SqlErrorCode } from './errors.js';
export { redactSql, type Redaction } from './redact.js';
export { matchesTemplate, templateOf, type StatementTemplate } from './statement-template.js';
export { lexSql, tokenAt, type Span, type SpanKind, type Token } from './sql-lexer.js';
