/** One step of a signature: a name (for evidence and tests) and a predicate over the event. */
export interface SequenceStep<E> {
  name: string;
  test: (event: E) => boolean;
}

/** Where one session stands in a signature. */
export interface SequenceProgress {
  /** Index of the furthest step matched, -1 before any. */
  reached: number;
  /** Names of the steps matched, in order. */
  matched: string[];
}

/** Result of feeding one event: which step it matched (or -1), and whether it was the last step. */
export interface SequenceStepResult {
  step: number;
  final: boolean;
}

/**
 * An ordered signature (pg_dump: snapshot SETs → REPEATABLE READ READ ONLY → LOCK … ACCESS SHARE → COPY … TO
 * stdout). Steps may be skipped (a site may not log MISC statements) but never taken out of order: an event only
 * advances to a step at or after the furthest one reached; the last step may repeat (one COPY per table).
 */
export interface Sequence<E> {
  readonly steps: readonly SequenceStep<E>[];
  start(): SequenceProgress;
  feed(progress: SequenceProgress, event: E): SequenceStepResult;
}

/** Builds a sequence signature from its steps (at least one). */
export function createSequence<E>(steps: readonly SequenceStep<E>[]): Sequence<E> {
  if (steps.length === 0) throw new RangeError('a sequence needs at least one step');
  const last = steps.length - 1;
  return {
    steps,
    start: () => ({ reached: -1, matched: [] }),
    feed(progress, event) {
      // Try the furthest steps first: a COPY after a LOCK is the COPY step, not a second LOCK.
      for (let i = last; i >= Math.max(progress.reached, 0); i -= 1) {
        const step = steps[i] as SequenceStep<E>;
        if (!step.test(event)) continue;
        if (i > progress.reached) {
          progress.reached = i;
          progress.matched.push(step.name);
        }
        return { step: i, final: i === last };
      }
      return { step: -1, final: false };
    },
  };
}
