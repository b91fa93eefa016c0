/**
 * Kubernetes label selectors: parsing with the API server's rules, and matching.
 *
 * Supported forms, comma separated: `key=value`, `key==value`, `key!=value`,
 * `key in (a,b)`, `key notin (a,b)`, `key` (exists) and `!key` (does not exist).
 */

/**
 * The operators a requirement can use.
 *
 * @example
 * ```ts
 * const negative: readonly SelectorOperator[] = ['notEquals', 'notIn', 'doesNotExist'];
 * const onlyPositive = parseLabelSelector(text).requirements
 *   .every((requirement) => !negative.includes(requirement.operator));
 * ```
 */
export type SelectorOperator = 'equals' | 'notEquals' | 'in' | 'notIn' | 'exists' | 'doesNotExist';

/**
 * One clause of a selector.
 *
 * @example
 * ```ts
 * const requirements: readonly SelectorRequirement[] =
 *   parseLabelSelector('app=lakerunner,!canary').requirements;
 * for (const { key, operator, values } of requirements) console.log(key, operator, values);
 * ```
 */
export interface SelectorRequirement {
  readonly key: string;
  readonly operator: SelectorOperator;
  readonly values: readonly string[];
}

/**
 * A parsed selector: every requirement must hold for a label set to match.
 *
 * @example
 * ```ts
 * const selector: LabelSelector = parseLabelSelector('app=lakerunner, tier in (query)');
 * console.log(selector.text, selector.requirements.length);
 * ```
 */
export interface LabelSelector {
  readonly requirements: readonly SelectorRequirement[];
  /** The canonical text form, as sent to the API server. */
  readonly text: string;
}

/**
 * Why a selector did not parse; the position is a 0-based character offset.
 *
 * @example
 * ```ts
 * try {
 *   parseLabelSelector('tier in (query');
 * } catch (err) {
 *   if (err instanceof SelectorSyntaxError) {
 *     console.error(`bad selector at character ${err.position}: ${err.message}`);
 *   } else throw err;
 * }
 * ```
 */
export class SelectorSyntaxError extends Error {
  readonly position: number;

  constructor(message: string, position: number) {
    super(message);
    this.name = 'SelectorSyntaxError';
    this.position = position;
  }
}

const nameMaxLength = 63;
const prefixMaxLength = 253;
const namePattern = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const dnsLabelPattern = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Why `key` is not a valid label key, or `undefined` when it is. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.indexOf('/');
  const prefix = slash === -1 ? undefined : key.slice(0, slash);
  const name = slash === -1 ? key : key.slice(slash + 1);

  if (prefix !== undefined) {
    if (prefix.length === 0) return `label key "${key}" has an empty prefix before "/"`;
    if (prefix.length > prefixMaxLength) {
      return `label key prefix "${prefix}" is longer than ${prefixMaxLength} characters`;
    }
    const labels = prefix.split('.');
    if (!labels.every((label) => label.length <= 63 && dnsLabelPattern.test(label))) {
      return `label key prefix "${prefix}" is not a lowercase DNS subdomain`;
    }
  }

  if (name.length === 0) return `label key "${key}" has an empty name`;
  if (name.length > nameMaxLength) {
    return `label key name "${name}" is longer than ${nameMaxLength} characters`;
  }
  if (!namePattern.test(name)) {
    return (
      `label key name "${name}" must be alphanumeric, may contain "-", "_" and "." inside, ` +
      'and must start and end with a letter or digit'
    );
  }
  return undefined;
}

/** Why `value` is not a valid label value, or `undefined` when it is. */
export function labelValueProblem(value: string): string | undefined {
  if (value.length === 0) return undefined;
  if (value.length > nameMaxLength) {
    return `label value "${value}" is longer than ${nameMaxLength} characters`;
  }
  if (!namePattern.test(value)) {
    return (
      `label value "${value}" must be alphanumeric, may contain "-", "_" and "." inside, ` +
      'and must start and end with a letter or digit'
    );
  }
  return undefined;
}

type Token =
  | { kind: 'word'; text: string; at: number }
  | { kind: 'op'; text: '=' | '==' | '!=' | '!' | ',' | '(' | ')'; at: number };

const wordCharacter = /[^\s=!,()]/;

function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let at = 0;

  while (at < input.length) {
    const char = input.charAt(at);
    if (/\s/.test(char)) {
      at += 1;
    } else if (char === '=' || char === '!') {
      const two = input.slice(at, at + 2);
      if (two === '==' || two === '!=') {
        tokens.push({ kind: 'op', text: two, at });
        at += 2;
      } else {
        tokens.push({ kind: 'op', text: char, at });
        at += 1;
      }
    } else if (char === ',' || char === '(' || char === ')') {
      tokens.push({ kind: 'op', text: char, at });
      at += 1;
    } else {
      const start = at;
      while (at < input.length && wordCharacter.test(input.charAt(at))) at += 1;
      tokens.push({ kind: 'word', text: input.slice(start, at), at: start });
    }
  }
  return tokens;
}

class SelectorParser {
  readonly #tokens: Token[];
  readonly #inputLength: number;
  #next = 0;

  constructor(input: string) {
    this.#tokens = tokenize(input);
    this.#inputLength = input.length;
  }

  parse(): SelectorRequirement[] {
    const requirements: SelectorRequirement[] = [];
    if (this.#tokens.length === 0) return requirements;

    for (;;) {
      requirements.push(this.#requirement());
      const token = this.#take();
      if (token === undefined) return requirements;
      if (token.kind !== 'op' || token.text !== ',') {
        throw new SelectorSyntaxError(`expected "," but found "${token.text}"`, token.at);
      }
    }
  }

  #requirement(): SelectorRequirement {
    const first = this.#expectToken('a label key');
    if (first.kind === 'op' && first.text === '!') {
      const key = this.#key(this.#expectToken('a label key after "!"'));
      return { key, operator: 'doesNotExist', values: [] };
    }

    const key = this.#key(first);
    const operator = this.#peek();
    if (operator === undefined || (operator.kind === 'op' && operator.text === ',')) {
      return { key, operator: 'exists', values: [] };
    }

    this.#take();
    if (operator.kind === 'op' && ['=', '==', '!='].includes(operator.text)) {
      const value = this.#value();
      return { key, operator: operator.text === '!=' ? 'notEquals' : 'equals', values: [value] };
    }
    if (operator.kind === 'word' && (operator.text === 'in' || operator.text === 'notin')) {
      return { key, operator: operator.text === 'in' ? 'in' : 'notIn', values: this.#set() };
    }
    throw new SelectorSyntaxError(
      `expected an operator (=, ==, !=, in, notin) after "${key}" but found "${operator.text}"`,
      operator.at,
    );
  }

  #key(token: Token): string {
    if (token.kind !== 'word') {
      throw new SelectorSyntaxError(`expected a label key but found "${token.text}"`, token.at);
    }
    const problem = labelKeyProblem(token.text);
    if (problem !== undefined) throw new SelectorSyntaxError(problem, token.at);
    return token.text;
  }

  /** A value may be empty (`key=` matches an empty label value), as in the API server. */
  #value(): string {
    const token = this.#peek();
    if (token === undefined || token.kind === 'op') {
      if (token !== undefined && token.text !== ',') {
        throw new SelectorSyntaxError(
          `expected a label value but found "${token.text}"`,
          token.at,
        );
      }
      return '';
    }
    this.#take();
    const problem = labelValueProblem(token.text);
    if (problem !== undefined) throw new SelectorSyntaxError(problem, token.at);
    return token.text;
  }

  #set(): string[] {
    const open = this.#expectToken('"("');
    if (open.kind !== 'op' || open.text !== '(') {
      throw new SelectorSyntaxError(`expected "(" but found "${open.text}"`, open.at);
    }

    const values: string[] = [];
    for (;;) {
      const token = this.#expectToken('a value or ")"');
      if (token.kind === 'op' && token.text === ')' && values.length === 0) {
        throw new SelectorSyntaxError('"in" and "notin" need at least one value', token.at);
      }
      if (token.kind !== 'word') {
        throw new SelectorSyntaxError(
          `expected a label value but found "${token.text}"`,
          token.at,
        );
      }
      const problem = labelValueProblem(token.text);
      if (problem !== undefined) throw new SelectorSyntaxError(problem, token.at);
      values.push(token.text);

      const separator = this.#expectToken('"," or ")"');
      if (separator.kind === 'op' && separator.text === ')') return values;
      if (separator.kind !== 'op' || separator.text !== ',') {
        throw new SelectorSyntaxError(
          `expected "," or ")" but found "${separator.text}"`,
          separator.at,
        );
      }
    }
  }

  #peek(): Token | undefined {
    return this.#tokens[this.#next];
  }

  #take(): Token | undefined {
    const token = this.#tokens[this.#next];
    if (token !== undefined) this.#next += 1;
    return token;
  }

  #expectToken(what: string): Token {
    const token = this.#take();
    if (token === undefined) {
      throw new SelectorSyntaxError(`expected ${what} but the selector ended`, this.#inputLength);
    }
    return token;
  }
}

function requirementText(requirement: SelectorRequirement): string {
  const { key, values } = requirement;
  switch (requirement.operator) {
    case 'equals':
      return `${key}=${values[0] ?? ''}`;
    case 'notEquals':
      return `${key}!=${values[0] ?? ''}`;
    case 'in':
      return `${key} in (${values.join(',')})`;
    case 'notIn':
      return `${key} notin (${values.join(',')})`;
    case 'exists':
      return key;
    case 'doesNotExist':
      return `!${key}`;
  }
}

/**
 * Parses a label selector with the API server's rules for keys and values.
 *
 * @throws {SelectorSyntaxError} naming what was expected and where.
 * @example
 * ```ts
 * const selector = parseLabelSelector('app=lakerunner,tier in (query,worker),!canary');
 * matchesLabels(selector, { app: 'lakerunner', tier: 'query' }); // true
 * ```
 */
export function parseLabelSelector(input: string): LabelSelector {
  const requirements = new SelectorParser(input).parse();
  return { requirements, text: requirements.map(requirementText).join(',') };
}

/**
 * Whether a set of labels satisfies every requirement of the selector.
 *
 * @example
 * ```ts
 * const selector = parseLabelSelector('app=lakerunner,!canary');
 * matchesLabels(selector, { app: 'lakerunner' }); // true
 * matchesLabels(selector, { app: 'lakerunner', canary: 'yes' }); // false
 * ```
 */
export function matchesLabels(
  selector: LabelSelector,
  labels: Readonly<Record<string, string>> | undefined,
): boolean {
  const present = labels ?? {};
  return selector.requirements.every((requirement) => {
    const has = Object.hasOwn(present, requirement.key);
    const value = present[requirement.key];
    switch (requirement.operator) {
      case 'equals':
      case 'in':
        return has && requirement.values.includes(value ?? '');
      case 'notEquals':
      case 'notIn':
        return !has || !requirement.values.includes(value ?? '');
      case 'exists':
        return has;
      case 'doesNotExist':
        return !has;
    }
  });
}
