/**
 * Remembers a pure function's answers by argument, at most `maxKeys` of them (all forgotten at once when full: no
 * bookkeeping per hit). For answers that cost microseconds and repeat from event to event: whether a client address
 * is in a CIDR list (node's BlockList builds a SocketAddress per question), a time written in a zone (Intl).
 */
export function memoize<K, V>(fn: (key: K) => V, maxKeys = 10_000): (key: K) => V {
  const answers = new Map<K, V>();
  return (key) => {
    let answer = answers.get(key);
    if (answer === undefined && !answers.has(key)) {
      if (answers.size >= maxKeys) answers.clear();
      answer = fn(key);
      answers.set(key, answer);
    }
    return answer as V;
  };
}
