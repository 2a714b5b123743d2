import { compile } from 'css-select';

const TRAILING_COMBINATOR = /[>+~]\s*$/;

/**
 * Why a CSS selector cannot be used, or undefined when it can: it is compiled with the same
 * engine (css-select) that runs it on pages, so what passes here runs there. A selector may
 * start with a combinator (`> li`: relative to the item), but not end with one.
 */
export function cssSelectorProblem(selector: string): string | undefined {
  if (selector.trim() === '') return 'is empty';
  if (TRAILING_COMBINATOR.test(selector)) return 'ends with a combinator';
  try {
    compile(selector);
    return undefined;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return /pseudo-element/i.test(reason)
      ? `${reason} (text is the default; write "@name" at the end for an attribute)`
      : reason;
  }
}
