//! Who may call each page and each server function: one table each, read by
//! the server's middleware before anything runs, and by the guard inside
//! every server function. A server function or page missing from its table
//! is refused (fail closed), and a test proves every registered one is here.

use domain::{Access, Permission, Role};

/// Server functions, by their URL path.
pub const API_ACCESS: &[(&str, Access)] = &[
    ("/api/sign_in", Access::Public),
    ("/api/current_user", Access::Public),
    ("/api/take_feedback", Access::Public),
    ("/api/sign_out", Access::SignedIn),
    ("/api/patient_details", Access::SignedIn),
    ("/api/access_history", Access::SignedIn),
    (
        "/api/find_patient",
        Access::Requires(Permission::FindPracticePatients),
    ),
    (
        "/api/list_practices",
        Access::Requires(Permission::ManageAllPractices),
    ),
];

/// Pages, by route pattern (`:name` matches one segment).
pub const PAGE_ACCESS: &[(&str, Access)] = &[
    ("/", Access::Public),
    ("/sign-in", Access::Public),
    ("/signed-out", Access::Public),
    ("/forbidden", Access::Public),
    ("/accessibility", Access::Public),
    ("/cookies", Access::Public),
    ("/home", Access::Requires(Permission::ViewOwnRecord)),
    (
        "/access-log",
        Access::Requires(Permission::ViewOwnAccessLog),
    ),
    ("/staff", Access::Requires(Permission::FindPracticePatients)),
    (
        "/staff/patients/:id",
        Access::Requires(Permission::ViewPracticePatientDetails),
    ),
    ("/admin", Access::Requires(Permission::ManageAllPractices)),
];

pub fn api_access(path: &str) -> Option<Access> {
    API_ACCESS.iter().find(|(p, _)| *p == path).map(|(_, a)| *a)
}

/// None means no page lives at this path: the 404 page answers, showing nothing.
pub fn page_access(path: &str) -> Option<Access> {
    PAGE_ACCESS
        .iter()
        .find(|(pattern, _)| path_matches(pattern, path))
        .map(|(_, a)| *a)
}

pub fn path_matches(pattern: &str, path: &str) -> bool {
    let path = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    };
    let mut want = pattern.split('/');
    let mut got = path.split('/');
    loop {
        match (want.next(), got.next()) {
            (None, None) => return true,
            (Some(w), Some(g)) if w.starts_with(':') && !g.is_empty() => {}
            (Some(w), Some(g)) if w == g => {}
            _ => return false,
        }
    }
}

/// Where a person lands after signing in.
pub fn home_path(role: Role) -> &'static str {
    match role {
        Role::Patient => "/home",
        Role::SystemAdmin => "/admin",
        _ => "/staff",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_whole_segments() {
        assert!(path_matches("/staff/patients/:id", "/staff/patients/12"));
        assert!(!path_matches("/staff/patients/:id", "/staff/patients/"));
        assert!(!path_matches("/staff", "/staff/patients/12"));
        assert!(path_matches("/home", "/home/"));
        assert!(path_matches("/", "/"));
        assert!(!path_matches("/", "/x"));
    }

    #[test]
    fn every_role_lands_on_a_page_it_may_open() {
        for role in Role::ALL {
            let actor = domain::Actor {
                account: domain::AccountId(1),
                role,
                practice: None,
                display_name: String::new(),
                practice_name: None,
                acting_for: None,
            };
            let access = page_access(home_path(role)).expect("home page is listed");
            assert_eq!(
                access.decide(Some(&actor)),
                domain::Decision::Allow,
                "{role:?}"
            );
        }
    }
}
