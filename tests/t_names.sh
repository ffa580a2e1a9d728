# Name uniqueness guards for custom vocabularies and products.
d=$(mktemp -d)

mkdir "$d/both"
printf 'Blue\nBlue Sky\n' >"$d/both/nouns.txt"
printf 'Sky Co\nCo\n' >"$d/both/company-suffixes.txt"
expect_error "spaces in both nouns and suffixes" 2 'nouns.txt and company-suffixes.txt' "$RS" --vocab "$d/both"

mkdir "$d/people"
printf 'Mary Ann\nMary\n' >"$d/people/first-names.txt"
printf 'Ann Smith\nSmith\n' >"$d/people/last-names.txt"
expect_error "spaces in both first and last names" 2 'first-names.txt and last-names.txt' "$RS" --vocab "$d/people"

# Spaces on one side only keep names unique: many reps over a tiny name space.
mkdir "$d/one-side"
printf 'Mary Ann\nMary\nAnn\n' >"$d/one-side/first-names.txt"
printf 'Smith\nAnn\n' >"$d/one-side/last-names.txt"
"$RS" --vocab "$d/one-side" --reps 40 --types rep >"$d/reps.ndjson"
dups=$(jq -r 'select(.type == "rep") | .data.name' "$d/reps.ndjson" | sort | uniq -d | wc -l)
total=$(jq -r 'select(.type == "rep") | .data.name' "$d/reps.ndjson" | wc -l)
if [ "$total" = 40 ] && [ "$dups" = 0 ]; then pass "spaces on one side: 40 distinct rep names from 6 base names"
else fail "spaces on one side" "total $total, repeated $dups"; fi

mkdir "$d/numbered"
printf 'Acme\nAcme (2)\n' >"$d/numbered/nouns.txt"
expect_error "a token that looks like a (n) suffix" 2 'nouns.txt.*Acme \(2\)' "$RS" --vocab "$d/numbered"

expect_error "a product starting with (" 2 'PRODUCTS' "$RS" --set 'PRODUCTS=("(2) Core", "Cloud")'
mkdir "$d/spaced-nouns"
printf 'Blue Sky\nRed\n' >"$d/spaced-nouns/nouns.txt"
expect_error "spaced products with spaced nouns" 2 'PRODUCTS' "$RS" --vocab "$d/spaced-nouns" --set 'PRODUCTS=("Core Platform", "Cloud")'
check "spaced products with the built-in vocabulary" "$RS" --set 'PRODUCTS=("Core Platform", "Cloud")' -o "$d/ok.ndjson"
rm -rf "$d"
