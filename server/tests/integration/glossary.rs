//! "Medical words explained" (/glossary) over real HTTP, signed out: the A
//! to Z with an anchor for every entry, and searches that find something,
//! find nothing, or were sent empty. Runs on SQLite and PostgreSQL
//! (PORTAL_TEST_DATABASE_URL), as every suite does.

use crate::common;

use common::*;
use domain::glossary;

async fn page(app: &TestApp, path: &str) -> String {
    let res = app.get(path).await;
    assert_eq!(res.status(), 200, "{path} on {}", backend());
    res.text().await.expect("body")
}

/// The part of the page that lists search results.
fn results(body: &str) -> &str {
    let start = body
        .find(r#"id="glossary-results""#)
        .expect("a results heading");
    let end = body.find(r#"id="glossary-a-z""#).expect("the A to Z");
    assert!(start < end, "results come before the A to Z");
    &body[start..end]
}

/// The entries linked from a piece of the page, in order.
fn linked_slugs(html: &str) -> Vec<&str> {
    html.split(r##"href="#"##)
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect()
}

#[tokio::test]
async fn anyone_can_browse_the_glossary_a_to_z() {
    let app = TestApp::spawn().await;
    let body = page(&app, "/glossary").await;
    assert!(body.contains("<h1>Medical words explained</h1>"), "{body}");
    assert!(!body.contains(r#"id="glossary-results""#));
    let letters = glossary::by_letter();
    for letter in 'a'..='z' {
        let has_terms = letters
            .iter()
            .any(|(l, _)| l.to_ascii_lowercase() == letter);
        assert_eq!(
            body.contains(&format!(r##"href="#letter-{letter}""##)),
            has_terms,
            "letter {letter} is linked only if it has terms"
        );
        assert_eq!(
            body.contains(&format!(r#"id="letter-{letter}""#)),
            has_terms,
            "letter {letter}'s section"
        );
    }
    for entry in glossary::entries() {
        assert!(
            body.contains(&format!(r#"<dt id="{}">"#, entry.slug)),
            "{} has its anchor",
            entry.term
        );
    }
    // Each entry says where to check it.
    assert_eq!(
        body.matches("Where to check this: ").count(),
        glossary::entries().len()
    );
    assert!(body.contains("Where to check this: Lab Tests Online UK: HbA1c"));
    // The anchors appear in A to Z order.
    let a = body.find(r#"<dt id="asthma">"#).expect("asthma");
    let h = body.find(r#"<dt id="hba1c">"#).expect("HbA1c");
    let w = body.find(r#"<dt id="warfarin">"#).expect("warfarin");
    assert!(a < h && h < w);
    // Linked from every page's footer.
    assert!(page(&app, "/").await.contains(r#"href="/glossary""#));
}

#[tokio::test]
async fn a_search_lists_the_best_match_first() {
    let app = TestApp::spawn().await;
    let body = page(&app, "/glossary?q=HbA1c").await;
    let found = results(&body);
    assert!(found.contains("matches \u{201c}HbA1c\u{201d}"), "{found}");
    assert_eq!(linked_slugs(found).first(), Some(&"hba1c"), "{found}");
    assert!(body.contains("<title>Search results - Medical words explained"));
    // The box keeps what was searched for.
    assert!(body.contains(r#"value="HbA1c""#), "{body}");

    // An abbreviation written with full stops, or without, finds the same.
    for q in ["b.d.", "BD", "bd"] {
        let body = page(&app, &format!("/glossary?q={q}")).await;
        assert_eq!(linked_slugs(results(&body)).first(), Some(&"b-d"), "{q}");
    }

    // A word found only inside explanations still finds them.
    let body = page(&app, "/glossary?q=kidneys").await;
    let slugs = linked_slugs(results(&body));
    assert!(slugs.contains(&"egfr"), "{slugs:?}");
    assert_eq!(slugs.len(), glossary::search("kidneys").len());
}

#[tokio::test]
async fn a_search_that_finds_nothing_says_what_to_try() {
    let app = TestApp::spawn().await;
    let body = page(&app, "/glossary?q=zzqxj").await;
    let found = results(&body);
    assert!(
        found.contains("No terms match \u{201c}zzqxj\u{201d}"),
        "{found}"
    );
    assert!(found.contains("check the spelling"));
    assert!(found.contains("ask your GP practice"));
    assert!(linked_slugs(found).is_empty());
    // The A to Z is still there to browse.
    assert!(body.contains(r#"<dt id="hba1c">"#));

    // What was typed is shown as text, never as markup.
    let body = page(&app, "/glossary?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E").await;
    assert!(!body.contains("<script>alert(1)"), "{body}");
    assert!(body.contains("&lt;script&gt;alert(1)"), "{body}");
    // Nor in the title, which leptos_meta does not escape.
    let body = page(&app, "/glossary?q=%3C%2Ftitle%3E%3Cb%3Ebold").await;
    assert!(!body.contains("</title><b>"), "{body}");
}

#[tokio::test]
async fn an_empty_search_asks_for_a_word() {
    let app = TestApp::spawn().await;
    let body = page(&app, "/glossary?q=++").await;
    assert!(
        body.contains("Enter a word or short form to search for"),
        "{body}"
    );
    assert!(body.contains("<title>Error: Medical words explained"));
    assert!(!body.contains(r#"id="glossary-results""#));
}

#[tokio::test]
async fn the_glossary_is_the_same_for_someone_signed_in() {
    let app = TestApp::spawn().await;
    app.sign_in(SARAH).await;
    let body = page(&app, "/glossary?q=statin").await;
    assert_eq!(linked_slugs(results(&body)).first(), Some(&"statin"));
}
