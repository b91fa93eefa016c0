import { describe, expect, it } from 'vitest';
import {
  matchesLabels,
  parseLabelSelector,
  SelectorSyntaxError,
} from '../../src/discovery/label-selector.js';

describe('parseLabelSelector', () => {
  it.each([
    ['app=lakerunner', [{ key: 'app', operator: 'equals', values: ['lakerunner'] }]],
    ['app==lakerunner', [{ key: 'app', operator: 'equals', values: ['lakerunner'] }]],
    ['app != lakerunner', [{ key: 'app', operator: 'notEquals', values: ['lakerunner'] }]],
    ['tier in (query, worker)', [{ key: 'tier', operator: 'in', values: ['query', 'worker'] }]],
    ['tier notin (canary)', [{ key: 'tier', operator: 'notIn', values: ['canary'] }]],
    ['ready', [{ key: 'ready', operator: 'exists', values: [] }]],
    ['!canary', [{ key: 'canary', operator: 'doesNotExist', values: [] }]],
    ['app=', [{ key: 'app', operator: 'equals', values: [''] }]],
  ])('parses %j', (input, requirements) => {
    expect(parseLabelSelector(input).requirements).toEqual(requirements);
  });

  it('parses the lakerunner selector with prefixed keys and keeps a canonical text', () => {
    const text =
      'app.kubernetes.io/instance=lakerunner,app.kubernetes.io/component=query-worker';
    const selector = parseLabelSelector(text);
    expect(selector.requirements).toHaveLength(2);
    expect(selector.text).toBe(text);
    expect(parseLabelSelector(' a = b ,  c in (d,e) , !f ').text).toBe('a=b,c in (d,e),!f');
  });

  it.each([
    ['app=a b', 'expected "," but found "b"'],
    ['=value', 'expected a label key but found "="'],
    ['app in ()', 'need at least one value'],
    ['app in (a', 'expected "," or ")" but the selector ended'],
    ['app in a', 'expected "(" but found "a"'],
    ['app=-bad', 'must start and end with a letter or digit'],
    [`app=${'v'.repeat(64)}`, 'longer than 63 characters'],
    [`${'k'.repeat(64)}=v`, 'longer than 63 characters'],
    ['Example.COM/app=v', 'not a lowercase DNS subdomain'],
    ['/app=v', 'empty prefix'],
    ['app.io/=v', 'empty name'],
    ['app,', 'expected a label key but the selector ended'],
    ['app=v,,b=c', 'expected a label key but found ","'],
    ['app >= 3', 'expected an operator'],
  ])('rejects %j', (input, message) => {
    expect(() => parseLabelSelector(input)).toThrow(SelectorSyntaxError);
    expect(() => parseLabelSelector(input)).toThrow(message);
  });
});

describe('matchesLabels', () => {
  const labels = { app: 'lakerunner', tier: 'query', empty: '' };

  it.each([
    ['app=lakerunner', true],
    ['app=other', false],
    ['app!=other', true],
    ['missing!=x', true],
    ['tier in (query,worker)', true],
    ['tier notin (query)', false],
    ['missing notin (query)', true],
    ['app', true],
    ['!app', false],
    ['!missing', true],
    ['empty=', true],
    ['missing=', false],
    ['app=lakerunner,tier=other', false],
    ['', true],
  ])('%j matches: %s', (input, expected) => {
    expect(matchesLabels(parseLabelSelector(input), labels)).toBe(expected);
  });
});
