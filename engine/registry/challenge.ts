/**
 * `WWW-Authenticate` challenges (RFC 7235) as registries send them:
 * `Bearer realm="https://auth.example/token",service="registry",scope="repository:a/b:pull"`
 * or `Basic realm="Registry"`. Several challenges may share one header.
 */
export interface Challenge {
  scheme: 'basic' | 'bearer';
  params: Record<string, string>;
}

const TOKEN = /[!#$%&'*+.^_`|~0-9A-Za-z-]+/y;

export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  const values = header === undefined ? [] : Array.isArray(header) ? header : [header];
  const out: Challenge[] = [];
  for (const value of values) {
    let current: Challenge | undefined;
    let i = 0;
    const skipSpace = () => {
      while (i < value.length && (value[i] === ' ' || value[i] === '\t' || value[i] === ',')) i++;
    };
    while (i < value.length) {
      skipSpace();
      const word = readToken(value, i);
      if (word === undefined) break;
      i += word.length;
      let j = i;
      while (value[j] === ' ') j++;
      if (value[j] === '=') {
        // a parameter of the current challenge
        i = j + 1;
        while (value[i] === ' ') i++;
        let v: string;
        if (value[i] === '"') {
          v = '';
          i++;
          while (i < value.length && value[i] !== '"') {
            if (value[i] === '\\' && i + 1 < value.length) i++;
            v += value[i];
            i++;
          }
          i++;
        } else {
          v = readToken(value, i) ?? '';
          i += v.length;
        }
        if (current) current.params[word.toLowerCase()] = v;
      } else {
        const scheme = word.toLowerCase();
        current = scheme === 'basic' || scheme === 'bearer' ? { scheme, params: {} } : undefined;
        if (current) out.push(current);
      }
    }
  }
  return out;
}

function readToken(s: string, at: number): string | undefined {
  TOKEN.lastIndex = at;
  return TOKEN.exec(s)?.[0];
}
