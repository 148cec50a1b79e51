import type { SqlAnalysis } from '@vigie/contract';
import { matchesTemplate, templateOf, type StatementTemplate } from '@vigie/sql';

/** The part of `@vigie/sql`'s analyzer the parser uses (so tests and replays can pass any implementation). */
export interface StatementAnalyzer {
  analyze(sql: string): SqlAnalysis;
  /** HMAC of a bound parameter value, or undefined when no key is configured. */
  hashParameter(value: string): string | undefined;
}

/** Analyses of statement texts, honouring the redaction setting, with pgaudit statements cached by query id. */
export interface AnalysisCache {
  /** The analysis of a text, never cached (statements cut at their head, for instance). */
  analyze(text: string): SqlAnalysis;
  /** The analysis of an audited statement's text, from the cache when the server's query id and the template match. */
  analyzeStatement(text: string, queryId: string | undefined): SqlAnalysis;
}

/** One statement text shape seen under a query id, with its analysis (see {@link createAnalysisCache}). */
interface TemplateEntry {
  /** The text the template was made from (never logged nor sent). */
  text: string;
  template: StatementTemplate;
  analysis: SqlAnalysis;
}

/** Most templates remembered per query id (a DO block or function runs several statements under one). */
const TEMPLATES_PER_QUERY_ID = 8;

/**
 * Analyses by server query id, each checked against the text before use. The server's query id names the
 * top-level statement, but pgaudit prints it on every line that statement causes: the statements a DO block, a
 * function or a trigger runs share it with the call, so equal query ids do not mean equal statements. A cached
 * analysis is used only for a text with exactly its template (the same text outside literals and comments, see
 * @vigie/sql statement-template.ts): then the parse tree is the same up to constants, so kind, relations,
 * WHERE/LIMIT, COPY, functions and the redacted text are too. Checking the template is native string comparisons
 * and a scan of the literals: it still skips the analyzer's lexer pass over the whole text (~25 µs on a loaded
 * 2-core box, more than JSON.parse of the whole line). The texts held here never leave the process.
 * With redaction off, every analysis carries its own text as `redacted`.
 */
export function createAnalysisCache(analyzer: StatementAnalyzer, redact: boolean): AnalysisCache {
  const byQueryId = new Map<string, TemplateEntry[]>();
  let cachedEntries = 0;

  const analyze = (text: string): SqlAnalysis => {
    const a = analyzer.analyze(text);
    return redact ? a : { ...a, redacted: text };
  };

  const analyzeStatement = (text: string, qid: string | undefined): SqlAnalysis => {
    if (qid === undefined || qid === '0' || text.length < 8 || text.startsWith('<')) return analyze(text);
    let entries = byQueryId.get(qid);
    if (entries !== undefined) {
      for (let i = 0; i < entries.length; i++) {
        const e = entries[i] as TemplateEntry;
        if (matchesTemplate(e.template, text)) {
          // Found first next time: swapped with the head (no shifting; a query id has a few templates at most).
          if (i > 0) {
            entries[i] = entries[0] as TemplateEntry;
            entries[0] = e;
          }
          return redact ? e.analysis : { ...e.analysis, redacted: text };
        }
      }
    }
    const a = analyzer.analyze(text);
    // A refused statement is not cached: whether and where it fails can depend on its literals. Nor is a text
    // holding `\'`: the redaction reads it both ways (standard_conforming_strings on and off), the template one.
    // (A text that matches a template made without `\'` shows only that template's fixed text, hides its literals.)
    if (a.parseError !== undefined || text.includes("\\'")) return redact ? a : { ...a, redacted: text };
    if (cachedEntries >= 4096) {
      byQueryId.clear();
      cachedEntries = 0;
      entries = undefined;
    }
    if (entries === undefined) byQueryId.set(qid, (entries = []));
    entries.unshift({ text, template: templateOf(text), analysis: a });
    cachedEntries += 1;
    if (entries.length > TEMPLATES_PER_QUERY_ID) {
      entries.pop();
      cachedEntries -= 1;
    }
    return redact ? a : { ...a, redacted: text };
  };

  return { analyze, analyzeStatement };
}
