//! "Medical words explained" (/glossary): search the glossary of GP-record
//! jargon and browse it A to Z. Public, and the same for everyone: nothing
//! here reads patient data, so there is no server function and no access-log
//! row. The glossary is compiled into the page (domain::glossary), and a
//! search is a plain GET form, with or without JavaScript. (The router's
//! `Form` would update the page in place, but it sends the unnamed submit
//! button too, making `/glossary?q=bd&=`.)

use domain::glossary::{self, Entry};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// What someone searched for, as the page understands it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Search {
    /// No search yet: the page shows the form and the A to Z.
    None,
    /// The form was sent with nothing in the box.
    Empty,
    /// The search, trimmed, as typed.
    For(String),
}

impl Search {
    fn from_query(q: Option<String>) -> Self {
        match q {
            None => Search::None,
            Some(q) if q.trim().is_empty() => Search::Empty,
            Some(q) => Search::For(q.trim().to_owned()),
        }
    }
}

#[component]
pub fn GlossaryPage() -> impl IntoView {
    let query = use_query_map();
    let search = Memo::new(move |_| Search::from_query(query.with(|q| q.get("q"))));
    // Never what was typed: leptos_meta 0.8 writes the title into the
    // page without escaping it, so a search for "</title><script>" would
    // become markup.
    let title = move || match search.get() {
        Search::Empty => "Error: Medical words explained",
        Search::For(_) => "Search results - Medical words explained",
        Search::None => "Medical words explained",
    };
    let typed = move || match search.get() {
        Search::For(q) => q,
        Search::None | Search::Empty => String::new(),
    };
    let empty = move || search.get() == Search::Empty;
    view! {
        <Title text=title/>
        <div class="nhsuk-grid-row">
            <div class="nhsuk-grid-column-two-thirds">
                <h1>"Medical words explained"</h1>
                <p class="nhsuk-lede-text">"GP records use medical words and short forms. Look one up to see what it means in plain English."</p>
                <form method="get" action="/glossary">
                    <div class=move || if empty() { "nhsuk-form-group nhsuk-form-group--error" } else { "nhsuk-form-group" }>
                        <label class="nhsuk-label nhsuk-label--s" for="q">"Search for a word or short form"</label>
                        <div class="nhsuk-hint" id="q-hint">"For example, HbA1c, bd or high blood pressure"</div>
                        {move || empty().then(|| view! {
                            <span class="nhsuk-error-message" id="q-error">
                                <span class="nhsuk-u-visually-hidden">"Error:"</span>" Enter a word or short form to search for, as it is written in your record"
                            </span>
                        })}
                        <input
                            class=move || if empty() { "nhsuk-input nhsuk-input--width-20 nhsuk-input--error" } else { "nhsuk-input nhsuk-input--width-20" }
                            id="q"
                            name="q"
                            type="search"
                            value=typed
                            autocomplete="off"
                            autocapitalize="none"
                            spellcheck="false"
                            aria-describedby=move || if empty() { "q-hint q-error" } else { "q-hint" }
                        />
                    </div>
                    <button class="nhsuk-button" type="submit">"Search"</button>
                </form>
                {move || match search.get() {
                    Search::For(q) => view! { <SearchResults query=q/> }.into_any(),
                    Search::None | Search::Empty => ().into_any(),
                }}
                <div class="nhsuk-inset-text">
                    <span class="nhsuk-u-visually-hidden">"Information: "</span>
                    <p>"We wrote these explanations to help you read your record. They are not advice about your own care: if something in your record worries you, contact your GP practice."</p>
                    <p>"We wrote them from general medical knowledge. Each one names the source a clinician should check it against."</p>
                </div>
                <AToZ/>
            </div>
        </div>
    }
}

#[component]
fn SearchResults(query: String) -> impl IntoView {
    let found = glossary::search(&query);
    if found.is_empty() {
        return view! {
            <h2 id="glossary-results">{format!("No terms match \u{201c}{query}\u{201d}")}</h2>
            <p>"You could:"</p>
            <ul>
                <li>"check the spelling"</li>
                <li>"search for the short form exactly as it is written in your record, such as bd or eGFR"</li>
                <li>"search for part of the word, such as cholest"</li>
                <li>"look for it in the A to Z below"</li>
            </ul>
            <p>"If you still cannot find it, ask your GP practice what it means."</p>
        }
        .into_any();
    }
    let heading = match found.len() {
        1 => format!("1 term matches \u{201c}{query}\u{201d}"),
        n => format!("{n} terms match \u{201c}{query}\u{201d}"),
    };
    view! {
        <h2 id="glossary-results">{heading}</h2>
        <ul class="nhsuk-list portal-glossary-results">
            {found
                .into_iter()
                .map(|entry| view! {
                    <li>
                        // To the entry below, on this page: the browser
                        // just scrolls, keeping the search.
                        <a class="nhsuk-link" href=format!("#{}", entry.slug) target="_self">{entry.term}</a>
                        " \u{2013} "{entry.explanation}
                    </li>
                })
                .collect_view()}
        </ul>
    }
    .into_any()
}

/// Every term, letter by letter, after a row of letters to jump to (the
/// NHS.UK A to Z navigation pattern). Links within the page carry
/// `target="_self"` so the browser follows them itself once hydrated, as it
/// does without JavaScript: the router would scroll but leave keyboard
/// focus behind.
#[component]
fn AToZ() -> impl IntoView {
    let letters = glossary::by_letter();
    let navigation = ('A'..='Z')
        .map(|letter| {
            let has_terms = letters.iter().any(|(l, _)| *l == letter);
            if has_terms {
                let href = format!("#letter-{}", letter.to_ascii_lowercase());
                view! {
                    <li class="portal-a-z__item">
                        <a class="portal-a-z__link" href=href target="_self">{letter.to_string()}</a>
                    </li>
                }
                .into_any()
            } else {
                view! {
                    <li class="portal-a-z__item">
                        <span class="portal-a-z__no-link">
                            {letter.to_string()}
                            <span class="nhsuk-u-visually-hidden">" (no terms)"</span>
                        </span>
                    </li>
                }
                .into_any()
            }
        })
        .collect_view();
    let sections = letters
        .into_iter()
        .map(|(letter, entries)| {
            let id = format!("letter-{}", letter.to_ascii_lowercase());
            view! {
                <div class="portal-glossary__letter">
                    <h3 class="nhsuk-heading-l" id=id>{letter.to_string()}</h3>
                    <dl class="portal-glossary">
                        {entries.into_iter().map(|entry| view! { <GlossaryEntry entry/> }).collect_view()}
                    </dl>
                    <p class="portal-glossary__back">
                        <a class="nhsuk-link" href="#glossary-a-z" target="_self">"Back to the A to Z"</a>
                    </p>
                </div>
            }
        })
        .collect_view();
    view! {
        <h2 id="glossary-a-z">"A to Z"</h2>
        <nav class="portal-a-z" aria-label="Medical words, A to Z">
            <ol class="portal-a-z__list" role="list">{navigation}</ol>
        </nav>
        {sections}
    }
}

#[component]
fn GlossaryEntry(entry: &'static Entry) -> impl IntoView {
    let also = (!entry.aliases.is_empty()).then(|| {
        view! { <p class="nhsuk-body-s portal-glossary__also">{format!("Also written as: {}", entry.aliases.join(", "))}</p> }
    });
    view! {
        <dt id=entry.slug><dfn>{entry.term}</dfn></dt>
        <dd>
            <p>{entry.explanation}</p>
            {also}
            <p class="nhsuk-body-s portal-glossary__source">{format!("Where to check this: {}", entry.checked_against)}</p>
        </dd>
    }
}

#[cfg(test)]
mod tests {
    use super::Search;

    #[test]
    fn the_query_says_whether_anything_was_searched_for() {
        assert_eq!(Search::from_query(None), Search::None);
        assert_eq!(Search::from_query(Some(String::new())), Search::Empty);
        assert_eq!(Search::from_query(Some("  \t".into())), Search::Empty);
        assert_eq!(
            Search::from_query(Some(" HbA1c ".into())),
            Search::For("HbA1c".into())
        );
    }
}
