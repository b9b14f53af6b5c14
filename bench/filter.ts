/**
 * The benches' --filter: case-insensitive substrings, several alternatives separated by '|'
 * ("copy|era.logits|sac update"), so one run can pick exactly the cases a GPU check needs. A term
 * ending in '$' must end the name ("matmul 256x512x512 f32$" leaves out "... f32 NT").
 * bench/baselines/run_all.py reads --filter the same way (matching case names, and its script names
 * with - for _, as the bench files are named), so filters on case names select the same cases.
 * Both run the selected cases in the order of the terms they match (filterRank): a run cut short
 * has measured what the filter names first.
 */

/** A --filter value as its lower-case alternatives ("a|b" -> ["a", "b"]); none means everything. */
export function filterTerms(filter: string | undefined): string[] {
  return (filter ?? '').toLowerCase().split('|').map((t) => t.trim()).filter((t) => t.length > 0 && t !== '$');
}

const hit = (term: string, n: string): boolean => {
  const name = n.toLowerCase();
  return term.endsWith('$') ? name.endsWith(term.slice(0, -1)) : name.includes(term);
};

/** Whether any of `terms` occurs in (or, ending in '$', ends) one of `names`; true where there are no terms. */
export function matchesFilter(terms: readonly string[], ...names: string[]): boolean {
  return terms.length === 0 || terms.some((t) => names.some((n) => hit(t, n)));
}

/** The index of the first term that `names` match (0 where there are no terms; terms.length for none). */
export function filterRank(terms: readonly string[], ...names: string[]): number {
  const i = terms.findIndex((t) => names.some((n) => hit(t, n)));
  return i < 0 ? terms.length : i;
}
