//! Who may call each page and each server function: one table each, read by
//! the server's middleware before anything runs, and by the guard inside
//! every server function. A server function or page missing from its table
//! is refused (fail closed), and a test proves every registered one is here.

use domain::{Access, Permission, Role};

/// Server functions, by their URL path.
pub const API_ACCESS: &[(&str, Access)] = &[
    ("/api/sign_in", Access::Public),
    ("/api/current_user", Access::Public),
    ("/api/sign_in_options", Access::Public),
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
    // Account emails. Links from emails work without signing in: the
    // token is the proof.
    ("/api/sign_up", Access::Public),
    ("/api/check_link", Access::Public),
    ("/api/confirm_email", Access::Public),
    ("/api/request_password_reset", Access::Public),
    ("/api/reset_password", Access::Public),
    ("/api/confirm_email_change", Access::Public),
    // Exists only while no mail server is configured (the port says so).
    ("/api/development_mailbox", Access::Public),
    // Open to a patient who has not confirmed their address yet: these are
    // how they confirm it or correct it.
    ("/api/resend_confirmation", Access::SignedIn),
    ("/api/account_settings", Access::SignedIn),
    ("/api/change_password", Access::SignedIn),
    ("/api/request_email_change", Access::SignedIn),
    ("/api/set_email_preferences", Access::SignedIn),
    // Your devices: open before a second factor or a confirmed address,
    // when ending a session someone else holds may matter most.
    ("/api/my_devices", Access::SignedIn),
    ("/api/sign_out_device", Access::SignedIn),
    ("/api/sign_out_everywhere", Access::SignedIn),
    // Staff second factor: open to staff who have not given it yet (that
    // is what they are for); each refuses patients itself.
    ("/api/second_factor_state", Access::SignedIn),
    ("/api/start_second_factor_setup", Access::SignedIn),
    ("/api/confirm_second_factor", Access::SignedIn),
    ("/api/verify_second_factor", Access::SignedIn),
    ("/api/new_recovery_codes", Access::SignedIn),
    (
        "/api/practice_team",
        Access::Requires(Permission::ManagePracticeStaff),
    ),
    (
        "/api/reset_second_factor",
        Access::Requires(Permission::ManagePracticeStaff),
    ),
    (
        "/api/email_outbox",
        Access::Requires(Permission::ManageAllPractices),
    ),
    (
        "/api/retry_email",
        Access::Requires(Permission::ManageAllPractices),
    ),
    // Registration letters. Staff act only on their own practice's
    // patients (checked against the patient, refusals logged). Using a
    // letter is open here but refused inside unless the caller is a
    // patient not yet fully checked, or someone NHS login vouched for
    // whose NHS login matched no record: neither may be signed in fully.
    (
        "/api/staff_patient",
        Access::Requires(Permission::ViewPracticePatientDetails),
    ),
    (
        "/api/issue_registration_letter",
        Access::Requires(Permission::ViewPracticePatientDetails),
    ),
    (
        "/api/take_registration_letter",
        Access::Requires(Permission::ViewPracticePatientDetails),
    ),
    (
        "/api/revoke_registration_letter",
        Access::Requires(Permission::ViewPracticePatientDetails),
    ),
    ("/api/link_record_visitor", Access::Public),
    ("/api/link_record", Access::Public),
    // The GP record: a patient's own (checked against the patient, and
    // against what their practice has put online; refusals logged).
    (
        "/api/record_summary",
        Access::Requires(Permission::ViewOwnRecord),
    ),
    (
        "/api/record_printable",
        Access::Requires(Permission::ViewOwnRecord),
    ),
    (
        "/api/record_section",
        Access::Requires(Permission::ViewOwnRecord),
    ),
    (
        "/api/record_document",
        Access::Requires(Permission::ViewOwnRecord),
    ),
    (
        "/api/record_trend",
        Access::Requires(Permission::ViewOwnRecord),
    ),
    // What of a record is online: clinicians and practice managers of the
    // patient's own practice.
    (
        "/api/staff_online_record",
        Access::Requires(Permission::ManageOnlineRecordAccess),
    ),
    (
        "/api/set_online_access",
        Access::Requires(Permission::ManageOnlineRecordAccess),
    ),
    (
        "/api/hide_record_entry",
        Access::Requires(Permission::ManageOnlineRecordAccess),
    ),
    (
        "/api/unhide_record_entry",
        Access::Requires(Permission::ManageOnlineRecordAccess),
    ),
    // Appointments: a patient's own (each checked against the record, refusals logged), staff for their practice.
    (
        "/api/my_appointments",
        Access::Requires(Permission::ManageOwnAppointments),
    ),
    (
        "/api/appointment_details",
        Access::Requires(Permission::ManageOwnAppointments),
    ),
    (
        "/api/find_slots",
        Access::Requires(Permission::ManageOwnAppointments),
    ),
    (
        "/api/booking_page",
        Access::Requires(Permission::ManageOwnAppointments),
    ),
    (
        "/api/check_booking",
        Access::Requires(Permission::ManageOwnAppointments),
    ),
    (
        "/api/booking_answers",
        Access::Requires(Permission::ManageOwnAppointments),
    ),
    (
        "/api/book_appointment",
        Access::Requires(Permission::ManageOwnAppointments),
    ),
    (
        "/api/cancel_appointment",
        Access::Requires(Permission::ManageOwnAppointments),
    ),
    (
        "/api/appointment_day",
        Access::Requires(Permission::ManagePracticeAppointments),
    ),
    (
        "/api/create_session",
        Access::Requires(Permission::ManagePracticeAppointments),
    ),
    (
        "/api/set_slot_blocked",
        Access::Requires(Permission::ManagePracticeAppointments),
    ),
    (
        "/api/cancel_session",
        Access::Requires(Permission::ManagePracticeAppointments),
    ),
    (
        "/api/mark_attendance",
        Access::Requires(Permission::ManagePracticeAppointments),
    ),
    (
        "/api/staff_booking_page",
        Access::Requires(Permission::ManagePracticeAppointments),
    ),
    (
        "/api/book_for_patient",
        Access::Requires(Permission::ManagePracticeAppointments),
    ),
    (
        "/api/release_rules",
        Access::Requires(Permission::ManagePracticeAppointments),
    ),
    (
        "/api/set_release_rules",
        Access::Requires(Permission::ManagePracticeAppointments),
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
    ("/nhs-login/problem", Access::Public),
    // Open to anyone signed in: it is where those who may not yet see the
    // record are sent.
    ("/prove-identity", Access::SignedIn),
    ("/home", Access::Requires(Permission::ViewOwnRecord)),
    (
        "/access-log",
        Access::Requires(Permission::ViewOwnAccessLog),
    ),
    ("/staff", Access::Requires(Permission::FindPracticePatients)),
    (
        "/staff/team",
        Access::Requires(Permission::ManagePracticeStaff),
    ),
    (
        "/staff/team/:id/reset",
        Access::Requires(Permission::ManagePracticeStaff),
    ),
    // Where staff are sent to give (or set up) their second factor.
    ("/mfa", Access::SignedIn),
    ("/mfa/setup", Access::SignedIn),
    ("/mfa/recovery-codes", Access::SignedIn),
    (
        "/staff/patients/:id",
        Access::Requires(Permission::ViewPracticePatientDetails),
    ),
    (
        "/staff/patients/:id/letter",
        Access::Requires(Permission::ViewPracticePatientDetails),
    ),
    // Says what to do to whoever opens it; the form works only for those
    // `/api/link_record` accepts.
    ("/link-record", Access::Public),
    ("/admin", Access::Requires(Permission::ManageAllPractices)),
    ("/sign-up", Access::Public),
    ("/sign-up/check-email", Access::Public),
    ("/verify-email", Access::Public),
    ("/email-confirmed", Access::Public),
    ("/forgot-password", Access::Public),
    ("/forgot-password/sent", Access::Public),
    ("/reset-password", Access::Public),
    ("/password-reset-done", Access::Public),
    ("/confirm-email-change", Access::Public),
    ("/email-changed", Access::Public),
    ("/dev/emails", Access::Public),
    ("/confirm-email", Access::SignedIn),
    ("/account", Access::SignedIn),
    ("/account/email", Access::SignedIn),
    ("/account/password", Access::SignedIn),
    ("/account/notifications", Access::SignedIn),
    ("/account/devices", Access::SignedIn),
    (
        "/admin/emails",
        Access::Requires(Permission::ManageAllPractices),
    ),
    // Medical words explained: the same for everyone, no patient data.
    ("/glossary", Access::Public),
    ("/record", Access::Requires(Permission::ViewOwnRecord)),
    ("/record/print", Access::Requires(Permission::ViewOwnRecord)),
    (
        "/record/:section",
        Access::Requires(Permission::ViewOwnRecord),
    ),
    (
        "/record/documents/:id",
        Access::Requires(Permission::ViewOwnRecord),
    ),
    (
        "/appointments",
        Access::Requires(Permission::ManageOwnAppointments),
    ),
    (
        "/appointments/find",
        Access::Requires(Permission::ManageOwnAppointments),
    ),
    (
        "/appointments/book/:slot",
        Access::Requires(Permission::ManageOwnAppointments),
    ),
    (
        "/appointments/book/:slot/check",
        Access::Requires(Permission::ManageOwnAppointments),
    ),
    (
        "/appointments/:id",
        Access::Requires(Permission::ManageOwnAppointments),
    ),
    (
        "/appointments/:id/cancel",
        Access::Requires(Permission::ManageOwnAppointments),
    ),
    (
        "/appointments/:id/calendar.ics",
        Access::Requires(Permission::ManageOwnAppointments),
    ),
    (
        "/staff/appointments",
        Access::Requires(Permission::ManagePracticeAppointments),
    ),
    (
        "/staff/appointments/new",
        Access::Requires(Permission::ManagePracticeAppointments),
    ),
    (
        "/staff/appointments/rules",
        Access::Requires(Permission::ManagePracticeAppointments),
    ),
    (
        "/staff/appointments/book/:slot",
        Access::Requires(Permission::ManagePracticeAppointments),
    ),
    (
        "/record/test-results/trend",
        Access::Requires(Permission::ViewOwnRecord),
    ),
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
    use domain::{AccountId, Actor, Decision, IdentityLevel};

    /// Someone signed in with everything in order: confirmed email, P9,
    /// second factor given if they are staff. Tests take away one thing.
    fn in_order(role: Role) -> Actor {
        Actor {
            account: AccountId(1),
            role,
            practice: None,
            display_name: String::new(),
            practice_name: None,
            acting_for: None,
            email_verified: true,
            identity_level: IdentityLevel::P9,
            second_factor_done: role.is_staff(),
        }
    }

    fn page_decision(actor: &Actor, page: &str) -> Decision {
        page_access(page)
            .unwrap_or_else(|| panic!("{page} is not listed"))
            .decide(Some(actor))
    }

    fn function_decision(actor: &Actor, function: &str) -> Decision {
        api_access(function)
            .unwrap_or_else(|| panic!("{function} is not listed"))
            .decide(Some(actor))
    }

    /// Every page and function named opens for this actor.
    fn all_open(actor: &Actor, pages: &[&str], functions: &[&str]) {
        for page in pages {
            assert_eq!(
                page_decision(actor, page),
                Decision::Allow,
                "{:?} {page}",
                actor.role
            );
        }
        for function in functions {
            assert_eq!(
                function_decision(actor, function),
                Decision::Allow,
                "{:?} {function}",
                actor.role
            );
        }
    }

    #[test]
    fn patterns_match_whole_segments() {
        assert!(path_matches("/staff/patients/:id", "/staff/patients/12"));
        assert!(!path_matches("/staff/patients/:id", "/staff/patients/"));
        assert!(!path_matches("/staff", "/staff/patients/12"));
        assert!(path_matches("/home", "/home/"));
        assert!(path_matches("/", "/"));
        assert!(!path_matches("/", "/x"));
    }

    /// The middleware sends a patient who has not confirmed their address
    /// to /confirm-email: that page, and what it leads to, must open for
    /// them, or they would go round in a loop.
    #[test]
    fn a_patient_with_an_unconfirmed_email_can_confirm_or_correct_it() {
        let actor = Actor {
            email_verified: false,
            ..in_order(Role::Patient)
        };
        all_open(
            &actor,
            &[
                "/confirm-email",
                "/account",
                "/account/email",
                "/verify-email",
            ],
            &[
                "/api/account_settings",
                "/api/resend_confirmation",
                "/api/request_email_change",
                "/api/confirm_email",
            ],
        );
    }

    /// The middleware sends a patient whose identity is below P9 to
    /// /prove-identity: it, and both ways through it, must open for them.
    #[test]
    fn a_patient_below_p9_can_reach_the_step_up() {
        for level in [IdentityLevel::P0, IdentityLevel::P5] {
            let actor = Actor {
                identity_level: level,
                ..in_order(Role::Patient)
            };
            all_open(
                &actor,
                &["/prove-identity", "/link-record", "/account"],
                &[],
            );
            assert_eq!(
                page_decision(&actor, "/home"),
                Decision::IdentityCheckRequired
            );
        }
    }

    /// The middleware sends a member of staff who has not given their
    /// second factor to /mfa: it, setting up an app, the recovery codes and
    /// the way out must open for them, or they would go round in a loop;
    /// nothing with patient data may.
    #[test]
    fn staff_without_a_second_factor_can_give_one_or_sign_out() {
        for role in Role::ALL.into_iter().filter(|r| r.is_staff()) {
            let actor = Actor {
                second_factor_done: false,
                ..in_order(role)
            };
            all_open(
                &actor,
                &["/mfa", "/mfa/setup", "/mfa/recovery-codes", "/account"],
                &[
                    "/api/second_factor_state",
                    "/api/start_second_factor_setup",
                    "/api/confirm_second_factor",
                    "/api/verify_second_factor",
                    "/api/new_recovery_codes",
                    "/api/sign_out",
                    "/api/current_user",
                    "/api/take_feedback",
                ],
            );
            for page in [
                "/staff",
                "/staff/patients/1",
                "/staff/team",
                "/staff/team/2/reset",
                "/admin",
            ] {
                assert_ne!(
                    page_decision(&actor, page),
                    Decision::Allow,
                    "{role:?} {page}"
                );
            }
        }
    }

    /// "Your devices" is how someone ends a session another person holds:
    /// it must open before anything else is in order, for every role.
    #[test]
    fn anyone_signed_in_can_see_and_end_their_devices() {
        let functions = [
            "/api/my_devices",
            "/api/sign_out_device",
            "/api/sign_out_everywhere",
        ];
        for role in Role::ALL {
            let actor = Actor {
                email_verified: false,
                identity_level: IdentityLevel::P0,
                second_factor_done: false,
                ..in_order(role)
            };
            all_open(&actor, &["/account/devices"], &functions);
        }
        for function in functions {
            let access = api_access(function).expect("function is listed");
            assert_eq!(access.decide(None), Decision::SignInRequired);
        }
    }

    #[test]
    fn every_role_lands_on_a_page_it_may_open() {
        for role in Role::ALL {
            all_open(&in_order(role), &[home_path(role)], &[]);
        }
    }

    /// Patients manage their own appointments; staff of a practice manage
    /// its book; a system administrator does neither, and a patient never
    /// reaches the staff side.
    #[test]
    fn appointments_open_to_patients_and_practice_staff_only() {
        let patient_pages = [
            "/appointments",
            "/appointments/find",
            "/appointments/book/3",
            "/appointments/book/3/check",
            "/appointments/7",
            "/appointments/7/cancel",
            "/appointments/7/calendar.ics",
        ];
        let staff_pages = [
            "/staff/appointments",
            "/staff/appointments/new",
            "/staff/appointments/rules",
            "/staff/appointments/book/3",
        ];
        all_open(
            &in_order(Role::Patient),
            &patient_pages,
            &[
                "/api/find_slots",
                "/api/book_appointment",
                "/api/cancel_appointment",
            ],
        );
        for role in [Role::Receptionist, Role::Clinician, Role::PracticeManager] {
            all_open(
                &in_order(role),
                &staff_pages,
                &[
                    "/api/create_session",
                    "/api/appointment_day",
                    "/api/book_for_patient",
                    "/api/cancel_session",
                ],
            );
        }
        for page in staff_pages {
            assert_eq!(
                page_decision(&in_order(Role::Patient), page),
                Decision::Forbidden,
                "{page}"
            );
            assert_eq!(
                page_decision(&in_order(Role::SystemAdmin), page),
                Decision::Forbidden,
                "{page}"
            );
        }
        for page in patient_pages {
            assert_eq!(
                page_decision(&in_order(Role::Receptionist), page),
                Decision::Forbidden,
                "{page}"
            );
        }
        let p5 = Actor {
            identity_level: IdentityLevel::P5,
            ..in_order(Role::Patient)
        };
        assert_eq!(
            page_decision(&p5, "/appointments/find"),
            Decision::IdentityCheckRequired
        );
    }
}
