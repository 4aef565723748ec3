import type { ModelMessage } from 'ai';
import type { TaskKind } from './ports.js';

/** One signal: a pattern and how much a match counts (each pattern counts once). */
type Signal = [pattern: RegExp, weight: number];

/** Below this score a text is plain chat. */
const THRESHOLD = 1.5;

/** Characters looked at; the start of a long input says what it is about. */
const MAX_CHARS = 20_000;

/**
 * Keyword and shape signals per task kind. On equal scores the earlier kind wins, which is also
 * the order in which a specific request outranks a generic one.
 */
const signals: Array<[TaskKind, Signal[]]> = [
  [
    'code',
    [
      [/```/, 3],
      // Stack traces: JavaScript, Python, Java.
      [/\n\s+at [\w.$<>[\]]+ \(?[^\s()]+:\d+:\d+\)?|Traceback \(most recent call last\)|Exception in thread "|\b[A-Z]\w*(?:Error|Exception): /, 3],
      [/^\s*(?:def|class|function|const|let|import|from|public|private|#include|package|fn|func)\s+[\w{]/m, 2],
      [/\b(?:javascript|typescript|python|java|golang|rust|kotlin|swift|ruby|php|c\+\+|c#|sql|bash|regex|node\.?js|react)\b/i, 1.5],
      [/\b(?:code|function|method|bug|debug|compile[sr]?|refactor|implement|unit tests?|stack trace|exception|script|snippet|api endpoint|null pointer|segfault)\b/i, 1.5],
    ],
  ],
  [
    'reasoning',
    [
      [/\b(?:prove|proof|theorem|lemma|derive|derivation)\b/i, 3],
      [/\bstep[- ]by[- ]step\b|\bthink (?:it )?through\b/i, 2.5],
      [/\b(?:solve|calculate|compute|equation|probability|math(?:s|ematics|ematical)?|logic(?:al)?|puzzle|riddle|optimal|trade-?offs?)\b/i, 1.5],
      [/\bwhy\b/i, 1.5],
      [/\d+(?:\.\d+)?\s*[-+*/^×÷]\s*\d+(?:\.\d+)?/, 1],
    ],
  ],
  [
    'extraction',
    [
      [/\b(?:extract|pull out|parse|scrape)\b/i, 2.5],
      [/\bJSON\b|\bkey[- ]value\b|\bstructured (?:data|output)\b|\bschema\b/i, 1],
      [/\bfields?\b|\bcolumns?\b|\battributes?\b/i, 1],
      [/\b(?:names?|e-?mails?|dates?|addresses|phone numbers?|amounts?|entities)\s+(?:from|in|mentioned)\b/i, 1.5],
    ],
  ],
  [
    'summarization',
    [
      [/\b(?:summari[sz]e|summary|summaries|tl;?dr|condense|recap|key (?:points|takeaways)|gist|bullet points?)\b/i, 3],
      [/\b(?:shorten|in (?:a few|one|two|three) sentences?|brief(?:ly)?|overview)\b/i, 1],
    ],
  ],
  [
    'classification',
    [
      [/\b(?:classify|classification|categori[sz]e|categories|label|tag (?:this|these|each|the)|sentiment|triage|which category|is (?:this|it) spam)\b/i, 3],
      [/\b(?:positive|negative|neutral)\b/i, 0.5],
      [/\b(?:spam|intent|priority|topic)\b/i, 0.5],
    ],
  ],
];

/** Scores per task kind (0 when nothing matched). */
export function taskScores(text: string): Record<TaskKind, number> {
  const sample = text.length > MAX_CHARS ? text.slice(0, MAX_CHARS) : text;
  const scores: Record<TaskKind, number> = { chat: 0, code: 0, reasoning: 0, extraction: 0, summarization: 0, classification: 0 };
  for (const [kind, patterns] of signals) {
    for (const [pattern, weight] of patterns) if (pattern.test(sample)) scores[kind] += weight;
  }
  return scores;
}

/**
 * The kind of task a text asks for: code (fences, stack traces, language names), extraction,
 * summarization, classification, reasoning (why, prove, step by step, math), else chat. A cheap,
 * deterministic keyword classifier: it only has to steer routing, not be right every time.
 */
export function classifyTask(text: string): TaskKind {
  const scores = taskScores(text);
  let best: TaskKind = 'chat';
  let bestScore = THRESHOLD - Number.EPSILON;
  for (const [kind] of signals) {
    if (scores[kind] > bestScore) {
      best = kind;
      bestScore = scores[kind];
    }
  }
  return best;
}

/** The text of the latest user message: what the router classifies. */
export function lastUserText(messages: ModelMessage[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!;
    if (m.role !== 'user') continue;
    if (typeof m.content === 'string') return m.content;
    return m.content.map((p) => (p.type === 'text' ? p.text : '')).join(' ');
  }
  return '';
}
