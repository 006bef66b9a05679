//! "Look up medical jargon": a glossary of the terms and abbreviations that
//! appear in UK GP records, explained in plain English, and the rules for
//! finding them in free text.
//!
//! The explanations are ours, written from general medical knowledge for a
//! reading age of about 9 to 11, in one to three short sentences. Each entry
//! names, in `checked_against`, the public source its facts should be
//! checked against (NHS.UK conditions and medicines A to Z, the NICE BNF,
//! Lab Tests Online UK, the NHS Data Model and Dictionary, NHS England
//! Digital, the UKHSA Green Book). Those pages could not be opened while the
//! entries were written: the sources are named so that a clinician can
//! verify each entry, not as a claim that they have been.
//!
//! Everything here is a pure function over a static list, compiled into the
//! server and the browser alike, so a page can annotate record text without
//! asking the server.

mod entries;

use std::sync::OnceLock;

/// One term: how records write it, and what it means.
#[derive(Debug, PartialEq, Eq)]
pub struct Entry {
    /// The anchor on the glossary page: lower-case letters, digits, hyphens.
    pub slug: &'static str,
    /// `/glossary#<slug>`, made at compile time so links cost nothing.
    pub href: &'static str,
    /// The term as it is usually written in a record.
    pub term: &'static str,
    /// Other ways records write it (matched regardless of case).
    pub aliases: &'static [&'static str],
    /// What it means, in plain English.
    pub explanation: &'static str,
    /// The source a clinician should check this entry against.
    pub checked_against: &'static str,
}

impl Entry {
    /// The term, then each alias.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + use<> {
        let aliases: &'static [&'static str] = self.aliases;
        std::iter::once(self.term).chain(aliases.iter().copied())
    }

    /// The letter the A to Z list files it under: the term's first letter,
    /// in capitals.
    pub fn letter(&self) -> char {
        self.term
            .chars()
            .next()
            .map_or('#', |c| c.to_ascii_uppercase())
    }
}

/// Every entry, in no particular order.
pub fn entries() -> &'static [Entry] {
    entries::ENTRIES
}

/// The entry whose term or alias is exactly this (ignoring case and the
/// spaces around it).
pub fn lookup(term: &str) -> Option<&'static Entry> {
    let term = term.trim();
    entries()
        .iter()
        .find(|entry| entry.names().any(|name| name.eq_ignore_ascii_case(term)))
}

/// The entry with this anchor.
pub fn by_slug(slug: &str) -> Option<&'static Entry> {
    entries().iter().find(|entry| entry.slug == slug)
}

/// How well an entry matches a search, best first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    /// The term or an alias is exactly what was typed (but for case).
    Exact,
    /// It is, once full stops and spaces are set aside ("bd" for "b.d.").
    Normalised,
    /// The term or an alias starts with it.
    Prefix,
    /// The term or an alias contains it.
    Contains,
    /// Only the explanation contains it.
    Explanation,
}

/// A search as someone typed it, made comparable with the glossary's
/// words: lower case, with full stops and extra spaces ignored, so "B.D."
/// finds "bd" and "vitamin  d" finds "vitamin D".
fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(
            word.chars()
                .filter(|c| *c != '.')
                .flat_map(char::to_lowercase),
        );
    }
    out
}

fn rank(entry: &Entry, typed: &str, query: &str) -> Option<Rank> {
    let mut best: Option<Rank> = None;
    for name in entry.names() {
        let exact = name.eq_ignore_ascii_case(typed);
        let name = normalise(name);
        let rank = if exact {
            Rank::Exact
        } else if name == query {
            Rank::Normalised
        } else if name.starts_with(query) {
            Rank::Prefix
        } else if name.contains(query) {
            Rank::Contains
        } else {
            continue;
        };
        best = Some(best.map_or(rank, |b| b.min(rank)));
    }
    best.or_else(|| {
        entry
            .explanation
            .to_lowercase()
            .contains(query)
            .then_some(Rank::Explanation)
    })
}

/// Entries whose term, an alias or the explanation contains the query
/// (ignoring case and full stops), best match first: the exact term, then
/// terms starting with it, then terms containing it, then explanations;
/// alphabetical within each. An empty query finds nothing.
pub fn search(typed: &str) -> Vec<&'static Entry> {
    let typed = typed.trim();
    let query = normalise(typed);
    if query.is_empty() {
        return Vec::new();
    }
    let mut found: Vec<(Rank, &'static Entry)> = entries()
        .iter()
        .filter_map(|entry| rank(entry, typed, &query).map(|rank| (rank, entry)))
        .collect();
    found.sort_by(|(ra, a), (rb, b)| ra.cmp(rb).then_with(|| alphabetical(a, b)));
    found.into_iter().map(|(_, entry)| entry).collect()
}

fn alphabetical(a: &Entry, b: &Entry) -> std::cmp::Ordering {
    let key = |e: &Entry| e.term.to_ascii_lowercase();
    key(a).cmp(&key(b)).then_with(|| a.term.cmp(b.term))
}

/// The A to Z list: each letter that has terms, with its terms in
/// alphabetical order.
pub fn by_letter() -> Vec<(char, Vec<&'static Entry>)> {
    let mut sorted: Vec<&'static Entry> = entries().iter().collect();
    sorted.sort_by(|a, b| alphabetical(a, b));
    let mut letters: Vec<(char, Vec<&'static Entry>)> = Vec::new();
    for entry in sorted {
        match letters.last_mut() {
            Some((letter, list)) if *letter == entry.letter() => list.push(entry),
            _ => letters.push((entry.letter(), vec![entry])),
        }
    }
    letters
}

/// A piece of free text: as it was, or a glossary term (in the text's own
/// spelling) with its entry. Borrowed from the text, so splitting costs one
/// vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Segment<'a> {
    Plain(&'a str),
    Term {
        text: &'a str,
        entry: &'static Entry,
    },
}

impl<'a> Segment<'a> {
    /// The text of this piece, exactly as it appeared.
    pub fn text(&self) -> &'a str {
        match self {
            Segment::Plain(text) | Segment::Term { text, .. } => text,
        }
    }
}

/// Every term and alias, grouped by its first byte in lower case and
/// longest first, so a position in the text is tried only against names
/// that could start there, and the longest one that fits wins.
struct Index {
    by_first_byte: Vec<Vec<(&'static str, &'static Entry)>>,
}

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut by_first_byte: Vec<Vec<(&'static str, &'static Entry)>> = vec![Vec::new(); 256];
        for entry in entries() {
            for name in entry.names() {
                if let Some(first) = name.bytes().next() {
                    by_first_byte[usize::from(first.to_ascii_lowercase())].push((name, entry));
                }
            }
        }
        for names in &mut by_first_byte {
            names.sort_by(|(a, _), (b, _)| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        }
        Index { by_first_byte }
    })
}

fn is_word_char(c: Option<char>) -> bool {
    c.is_some_and(char::is_alphanumeric)
}

/// The longest glossary name that starts at byte `at` of `text` and ends
/// at a word boundary, with its entry.
fn term_at(text: &str, at: usize) -> Option<(usize, &'static Entry)> {
    let first = *text.as_bytes().get(at)?;
    index().by_first_byte[usize::from(first.to_ascii_lowercase())]
        .iter()
        .find_map(|(name, entry)| {
            let end = at + name.len();
            let candidate = text.get(at..end)?;
            (candidate.eq_ignore_ascii_case(name) && !is_word_char(text[end..].chars().next()))
                .then_some((end, *entry))
        })
}

/// Splits free text into plain pieces and glossary terms. Terms match whole
/// words only, regardless of case, the longest first: "bd" is found in
/// "1 tab bd" but not inside "abdomen", and "BP" matches "BP" and "bp" but
/// not "bpm" (which is a term of its own). Joining the pieces' text gives
/// back exactly the input.
pub fn annotate(text: &str) -> Vec<Segment<'_>> {
    let mut segments = Vec::new();
    let mut plain_from = 0;
    let mut skip_to = 0;
    let mut previous: Option<char> = None;
    for (at, c) in text.char_indices() {
        let starts_word = c.is_alphanumeric() && !is_word_char(previous);
        previous = Some(c);
        if at < skip_to || !starts_word {
            continue;
        }
        if let Some((end, entry)) = term_at(text, at) {
            if plain_from < at {
                segments.push(Segment::Plain(&text[plain_from..at]));
            }
            segments.push(Segment::Term {
                text: &text[at..end],
                entry,
            });
            plain_from = end;
            skip_to = end;
        }
    }
    if plain_from < text.len() {
        segments.push(Segment::Plain(&text[plain_from..]));
    }
    segments
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn terms(text: &str) -> Vec<(&str, &'static str)> {
        annotate(text)
            .into_iter()
            .filter_map(|segment| match segment {
                Segment::Term { text, entry } => Some((text, entry.slug)),
                Segment::Plain(_) => None,
            })
            .collect()
    }

    fn joined(segments: &[Segment<'_>]) -> String {
        segments.iter().map(Segment::text).collect()
    }

    #[test]
    fn there_are_at_least_200_entries() {
        assert!(entries().len() >= 200, "{} entries", entries().len());
    }

    #[test]
    fn every_term_and_alias_belongs_to_one_entry() {
        let mut seen: HashMap<String, &str> = HashMap::new();
        let mut twice = Vec::new();
        for entry in entries() {
            for name in entry.names() {
                if let Some(other) = seen.insert(name.to_lowercase(), entry.slug) {
                    twice.push(format!("{name:?} in {other} and {}", entry.slug));
                }
            }
        }
        assert!(twice.is_empty(), "{twice:#?}");
    }

    #[test]
    fn slugs_are_unique_anchors() {
        let mut seen = std::collections::HashSet::new();
        for entry in entries() {
            assert!(seen.insert(entry.slug), "slug {} twice", entry.slug);
            assert!(
                !entry.slug.is_empty()
                    && entry
                        .slug
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    && !entry.slug.starts_with('-')
                    && !entry.slug.ends_with('-'),
                "slug {:?}",
                entry.slug
            );
            // The page's own ids: the letter headings, the search box.
            assert!(!entry.slug.starts_with("letter-"), "{}", entry.slug);
            assert!(!["q", "maincontent", "glossary-a-z"].contains(&entry.slug));
            assert_eq!(entry.href, format!("/glossary#{}", entry.slug));
        }
    }

    #[test]
    fn every_entry_is_written_out() {
        for entry in entries() {
            assert!(!entry.term.trim().is_empty(), "{}", entry.slug);
            assert_eq!(entry.term.trim(), entry.term, "{}", entry.slug);
            assert!(
                entry.letter().is_ascii_uppercase(),
                "{} files under {}",
                entry.term,
                entry.letter()
            );
            let explanation = entry.explanation.trim();
            assert!(!explanation.is_empty(), "{} has no explanation", entry.term);
            assert!(
                explanation.ends_with(['.', ')']),
                "{}: end with a full stop",
                entry.term
            );
            let sentences = explanation.matches(". ").count() + 1;
            assert!(sentences <= 3, "{}: {sentences} sentences", entry.term);
            assert!(
                explanation.len() <= 260,
                "{}: too long to read quickly",
                entry.term
            );
            assert!(
                !entry.checked_against.trim().is_empty(),
                "{}: no source",
                entry.term
            );
            for alias in entry.aliases {
                assert!(
                    !alias.trim().is_empty() && alias.trim() == *alias,
                    "{}: alias {alias:?}",
                    entry.term
                );
                assert!(
                    alias.starts_with(char::is_alphanumeric),
                    "{}: alias {alias:?}",
                    entry.term
                );
            }
        }
    }

    /// Aliases that are everyday English would turn ordinary words in a
    /// record into links that explain the wrong thing.
    #[test]
    fn no_alias_is_an_everyday_word() {
        for word in [
            "on", "fit", "pop", "mr", "ice", "pad", "us", "ed", "cap", "recall", "referred", "gum",
            "ida", "no", "is", "am", "be",
        ] {
            assert_eq!(lookup(word), None, "{word}");
        }
    }

    #[test]
    fn lookup_finds_terms_and_aliases_in_any_case() {
        assert_eq!(lookup("b.d.").map(|e| e.slug), Some("b-d"));
        assert_eq!(lookup("bd").map(|e| e.slug), Some("b-d"));
        assert_eq!(lookup("BD").map(|e| e.slug), Some("b-d"));
        assert_eq!(lookup(" hba1c ").map(|e| e.slug), Some("hba1c"));
        assert_eq!(
            lookup("high blood pressure").map(|e| e.slug),
            Some("hypertension")
        );
        assert_eq!(lookup("U&E").map(|e| e.slug), Some("u-e"));
        assert_eq!(lookup("no such term"), None);
        assert_eq!(lookup(""), None);
    }

    #[test]
    fn the_terms_the_brief_names_are_all_there() {
        for term in [
            "b.d.",
            "t.d.s.",
            "q.d.s.",
            "o.d.",
            "o.n.",
            "PRN",
            "p.r.n.",
            "mane",
            "nocte",
            "stat",
            "PO",
            "IM",
            "SC",
            "IV",
            "PR",
            "top.",
            "inh.",
            "mg",
            "mcg",
            "ml",
            "HbA1c",
            "eGFR",
            "FBC",
            "U&E",
            "LFT",
            "TFT",
            "TSH",
            "CRP",
            "ESR",
            "INR",
            "PSA",
            "cholesterol",
            "HDL",
            "LDL",
            "triglycerides",
            "creatinine",
            "potassium",
            "sodium",
            "haemoglobin",
            "platelets",
            "ferritin",
            "B12",
            "folate",
            "vitamin D",
            "BMI",
            "BP",
            "systolic",
            "diastolic",
            "pulse",
            "SpO2",
            "peak flow",
            "urine dip",
            "MSU",
            "ACR",
            "NAD",
            "O/E",
            "SOB",
            "SOBOE",
            "c/o",
            "h/o",
            "FH",
            "SH",
            "PMH",
            "DH",
            "NKDA",
            "NKA",
            "RV",
            "TCA",
            "f/u",
            "Dx",
            "Rx",
            "Hx",
            "Sx",
            "Tx",
            "hypertension",
            "hyperlipidaemia",
            "type 2 diabetes",
            "asthma",
            "COPD",
            "AF",
            "CKD",
            "IHD",
            "MI",
            "TIA",
            "CVA",
            "GORD",
            "IBS",
            "UTI",
            "URTI",
            "LRTI",
            "OA",
            "RA",
            "DVT",
            "PE",
            "statin",
            "ACE inhibitor",
            "beta blocker",
            "PPI",
            "NSAID",
            "SSRI",
            "anticoagulant",
            "repeat prescription",
            "acute prescription",
            "SNOMED CT",
            "dm+d",
            "coded entry",
            "problem",
            "active problem",
            "inactive problem",
            "consultation",
            "encounter",
            "referral",
            "immunisation",
            "QOF",
            "summary care record",
        ] {
            assert!(lookup(term).is_some(), "{term} is missing");
        }
    }

    #[test]
    fn search_puts_the_exact_term_first() {
        let found = search("hba1c");
        assert_eq!(found.first().map(|e| e.slug), Some("hba1c"));
        let found = search("B.D.");
        assert_eq!(found.first().map(|e| e.slug), Some("b-d"));
        let found = search("blood");
        assert!(found.len() > 5);
        // "blood pressure" is an alias of BP and starts with the query:
        // it comes before entries that only mention blood in passing.
        let bp = found.iter().position(|e| e.slug == "bp");
        let explained_only = found
            .iter()
            .position(|e| rank(e, "blood", "blood") == Some(Rank::Explanation));
        assert!(bp.is_some() && explained_only.is_some() && bp < explained_only);
    }

    #[test]
    fn search_looks_in_explanations_too() {
        let found = search("kidneys");
        assert!(found.iter().any(|e| e.slug == "egfr"));
    }

    #[test]
    fn search_finds_nothing_for_nonsense_or_nothing() {
        assert!(search("zzqxj").is_empty());
        assert!(search("").is_empty());
        assert!(search("   ").is_empty());
    }

    #[test]
    fn by_letter_lists_every_entry_once_in_order() {
        let letters = by_letter();
        let total: usize = letters.iter().map(|(_, list)| list.len()).sum();
        assert_eq!(total, entries().len());
        let keys: Vec<char> = letters.iter().map(|(c, _)| *c).collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(keys, sorted);
        for (letter, list) in &letters {
            assert!(list.iter().all(|e| e.letter() == *letter));
            assert!(list.windows(2).all(|w| alphabetical(w[0], w[1]).is_lt()));
        }
    }

    #[test]
    fn annotate_finds_whole_words_only() {
        assert_eq!(terms("Paracetamol 1g bd"), vec![("bd", "b-d")]);
        assert_eq!(terms("pain in the abdomen"), vec![]);
        assert_eq!(
            terms("BP 130/85, bp fine"),
            vec![("BP", "bp"), ("bp", "bp")]
        );
        assert_eq!(
            terms("pulse 72 bpm"),
            vec![("pulse", "pulse"), ("bpm", "bpm")]
        );
        assert_eq!(terms("BPH"), vec![("BPH", "bph")]);
        assert_eq!(terms("statins"), vec![("statins", "statin")]);
        assert_eq!(terms("status"), vec![]);
    }

    #[test]
    fn annotate_prefers_the_longest_term() {
        assert_eq!(terms("1 tab b.d."), vec![("tab", "tab"), ("b.d.", "b-d")]);
        assert_eq!(terms("HbA1c 48"), vec![("HbA1c", "hba1c")]);
        assert_eq!(terms("Hb 120"), vec![("Hb", "haemoglobin")]);
        assert_eq!(
            terms("non-HDL cholesterol 3.1"),
            vec![("non-HDL cholesterol", "non-hdl")]
        );
        assert_eq!(
            terms("h/o high blood pressure"),
            vec![("h/o", "h-o"), ("high blood pressure", "hypertension")]
        );
        // A longer name that does not end at a word boundary gives way to a
        // shorter one that does.
        assert_eq!(terms("HDL cholesterols"), vec![("HDL", "hdl")]);
        assert_eq!(terms("HDL-C 1.2"), vec![("HDL-C", "hdl")]);
    }

    #[test]
    fn annotate_handles_punctuation_and_unicode() {
        assert_eq!(terms("(U&E) normal."), vec![("U&E", "u-e")]);
        assert_eq!(terms("Température élevée, SOB."), vec![("SOB", "sob")]);
        assert_eq!(terms("5µg"), vec![]);
        assert_eq!(terms("5 µg"), vec![("µg", "mcg")]);
        assert_eq!(terms("éBP"), vec![]);
        assert_eq!(annotate(""), vec![]);
    }

    #[test]
    fn annotate_keeps_plain_text_between_terms() {
        let segments = annotate("O/E: NAD. Plan: TCA 2/52");
        assert_eq!(joined(&segments), "O/E: NAD. Plan: TCA 2/52");
        assert!(matches!(segments[0], Segment::Term { text: "O/E", .. }));
        assert_eq!(segments[1], Segment::Plain(": "));
        assert!(matches!(segments.last(), Some(Segment::Plain(" 2/52"))));
    }

    /// Text made of glossary names, everyday words, punctuation and a few
    /// characters beyond ASCII, so matches and near misses are common.
    fn record_like_text() -> impl Strategy<Value = String> {
        let names: Vec<&'static str> = entries().iter().flat_map(Entry::names).collect();
        let piece = prop_oneof![
            proptest::sample::select(names).prop_map(str::to_owned),
            proptest::sample::select(vec!["abdomen", "bpm", "and", "the", "x", "ü", "µ", "é"])
                .prop_map(str::to_owned),
            "[ .,;:/()&+'-]{0,3}",
            "\\PC{0,4}",
        ];
        proptest::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #[test]
        fn annotate_never_loses_or_reorders_text(text in record_like_text()) {
            let segments = annotate(&text);
            prop_assert_eq!(joined(&segments), text);
        }

        #[test]
        fn annotated_terms_are_whole_words_that_name_their_entry(text in record_like_text()) {
            let mut at = 0;
            for segment in annotate(&text) {
                let piece = segment.text();
                prop_assert!(!piece.is_empty());
                if let Segment::Term { text: term, entry } = segment {
                    prop_assert!(entry.names().any(|n| n.eq_ignore_ascii_case(term)));
                    prop_assert!(!is_word_char(text[..at].chars().next_back()));
                    prop_assert!(!is_word_char(text[at + term.len()..].chars().next()));
                }
                at += piece.len();
            }
        }

        #[test]
        fn plain_pieces_never_sit_side_by_side(text in record_like_text()) {
            let segments = annotate(&text);
            for pair in segments.windows(2) {
                prop_assert!(!matches!(pair, [Segment::Plain(_), Segment::Plain(_)]));
            }
        }

        #[test]
        fn a_name_on_its_own_is_found_as_its_entry(index in 0..entries().len(), upper in any::<bool>()) {
            let entry = &entries()[index];
            for name in entry.names() {
                let text = if upper { name.to_ascii_uppercase() } else { name.to_ascii_lowercase() };
                let found = terms(&text);
                prop_assert_eq!(found.len(), 1, "{:?}", text);
                prop_assert_eq!(found[0].1, entry.slug);
                prop_assert_eq!(lookup(&text).map(|e| e.slug), Some(entry.slug));
            }
        }

        #[test]
        fn search_finds_every_term_first_by_its_own_name(index in 0..entries().len()) {
            let entry = &entries()[index];
            let found = search(entry.term);
            prop_assert_eq!(found.first().map(|e| e.slug), Some(entry.slug));
        }
    }
}
