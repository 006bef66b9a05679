//! Who is asking and what they may do. Every page and server function is
//! guarded by an [`Access`] rule; every read of patient data additionally
//! passes [`authorize_patient`]. Both are pure so they can be tested
//! exhaustively.

use crate::identity::IdentityLevel;
use crate::ids::{AccountId, PatientId, PracticeId};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Patient,
    Receptionist,
    Clinician,
    PracticeManager,
    SystemAdmin,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Patient,
        Role::Receptionist,
        Role::Clinician,
        Role::PracticeManager,
        Role::SystemAdmin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Patient => "patient",
            Role::Receptionist => "receptionist",
            Role::Clinician => "clinician",
            Role::PracticeManager => "practice_manager",
            Role::SystemAdmin => "system_admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Patient => "Patient",
            Role::Receptionist => "Receptionist",
            Role::Clinician => "Clinician",
            Role::PracticeManager => "Practice manager",
            Role::SystemAdmin => "System administrator",
        }
    }

    pub fn is_staff(self) -> bool {
        !matches!(self, Role::Patient)
    }

    pub fn permissions(self) -> &'static [Permission] {
        use Permission::*;
        match self {
            Role::Patient => &[ViewOwnRecord, ViewOwnAccessLog, ManageOwnAppointments],
            Role::Receptionist => &[
                FindPracticePatients,
                ViewPracticePatientDetails,
                ManagePracticeAppointments,
            ],
            Role::Clinician => &[
                FindPracticePatients,
                ViewPracticePatientDetails,
                ManagePracticeAppointments,
                ManageOnlineRecordAccess,
            ],
            Role::PracticeManager => &[
                FindPracticePatients,
                ViewPracticePatientDetails,
                ViewPracticeAccessLog,
                ManagePracticeStaff,
                ManagePracticeAppointments,
                ManageOnlineRecordAccess,
            ],
            // Runs the service; sees no patient's data.
            Role::SystemAdmin => &[ManageAllPractices],
        }
    }

    pub fn has(self, permission: Permission) -> bool {
        self.permissions().contains(&permission)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Permission {
    ViewOwnRecord,
    ViewOwnAccessLog,
    FindPracticePatients,
    ViewPracticePatientDetails,
    ViewPracticeAccessLog,
    ManagePracticeStaff,
    ManageAllPractices,
    /// Find, book and cancel one's own appointments.
    ManageOwnAppointments,
    /// Publish sessions and slots, book for patients, mark attendance.
    ManagePracticeAppointments,
    /// Set what of a patient's record is online, hide single entries: a
    /// clinical judgement, so not for receptionists.
    ManageOnlineRecordAccess,
}

impl Permission {
    /// Permissions that open patient data, which a patient may use only
    /// once they have confirmed their email address.
    pub fn needs_confirmed_email(self) -> bool {
        matches!(
            self,
            Permission::ViewOwnRecord
                | Permission::ViewOwnAccessLog
                | Permission::ManageOwnAppointments
        )
    }

    /// Permissions that need a fully checked identity (NHS login P9, or an
    /// account the practice made or linked by registration letter): seeing
    /// the record, and later ordering repeats and managing appointments.
    pub fn needs_full_identity(self) -> bool {
        matches!(
            self,
            Permission::ViewOwnRecord
                | Permission::ViewOwnAccessLog
                | Permission::ManageOwnAppointments
        )
    }
}

/// The signed-in person behind a request. Built by the server from the
/// session and the database on every request, never trusted from the browser.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub account: AccountId,
    pub role: Role,
    /// None only for system administrators.
    pub practice: Option<PracticeId>,
    pub display_name: String,
    /// Shown in the header; loaded with the account in one query.
    pub practice_name: Option<String>,
    /// The patient whose record this person is using: their own for a
    /// patient; later, the person they care for when acting as a proxy.
    pub acting_for: Option<PatientId>,
    /// Has this person confirmed their email address? A patient who has not
    /// cannot see any record until they do.
    pub email_verified: bool,
    /// How well this person's identity is proved for this sign-in: the
    /// level NHS login reported, or the account's own level for a password
    /// sign-in.
    pub identity_level: IdentityLevel,
    /// Has this member of staff given their second factor (authenticator
    /// code or recovery code) in this session? Always false for patients,
    /// who do not use one here.
    pub second_factor_done: bool,
}

/// Who may call a page or server function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not (sign-in itself, static information).
    Public,
    /// Any signed-in person.
    SignedIn,
    /// A signed-in person whose role carries this permission.
    Requires(Permission),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Not signed in: send them to sign in.
    SignInRequired,
    /// Signed in but not allowed.
    Forbidden,
    /// Allowed once they confirm their email address.
    EmailNotConfirmed,
    /// Allowed once they prove their identity to P9: offer a step-up.
    IdentityCheckRequired,
    /// Staff: allowed once they give their second factor.
    SecondFactorRequired,
}

impl Access {
    pub fn decide(self, actor: Option<&Actor>) -> Decision {
        match (self, actor) {
            (Access::Public, _) => Decision::Allow,
            (_, None) => Decision::SignInRequired,
            (Access::SignedIn, Some(_)) => Decision::Allow,
            (Access::Requires(p), Some(a)) if a.role.has(p) => {
                if a.role.is_staff() && !a.second_factor_done {
                    Decision::SecondFactorRequired
                } else if p.needs_confirmed_email() && !a.email_verified {
                    Decision::EmailNotConfirmed
                } else if p.needs_full_identity() && a.identity_level < IdentityLevel::P9 {
                    Decision::IdentityCheckRequired
                } else {
                    Decision::Allow
                }
            }
            (Access::Requires(_), Some(_)) => Decision::Forbidden,
        }
    }
}

/// Where a patient's record lives, as far as authorization cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PatientRef {
    pub id: PatientId,
    pub practice: PracticeId,
}

/// May this actor see this patient's data? A patient sees only the record
/// they act for; staff see only patients of their own practice, and only
/// with a permission to do so.
pub fn authorize_patient(actor: &Actor, patient: PatientRef) -> Decision {
    let allowed = match actor.role {
        Role::Patient => {
            actor.email_verified
                && actor.identity_level == IdentityLevel::P9
                && actor.acting_for == Some(patient.id)
                && actor.practice == Some(patient.practice)
        }
        role => {
            actor.second_factor_done
                && role.has(Permission::ViewPracticePatientDetails)
                && actor.practice == Some(patient.practice)
        }
    };
    if allowed {
        Decision::Allow
    } else {
        Decision::Forbidden
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn actor(role: Role, practice: i64, acting_for: Option<i64>) -> Actor {
        Actor {
            account: AccountId(1),
            role,
            practice: Some(PracticeId(practice)),
            display_name: "Test".into(),
            practice_name: None,
            acting_for: acting_for.map(PatientId),
            email_verified: true,
            identity_level: IdentityLevel::P9,
            second_factor_done: role.is_staff(),
        }
    }

    #[test]
    fn a_p5_patient_is_offered_a_step_up_and_sees_no_record() {
        let p = Actor {
            identity_level: IdentityLevel::P5,
            ..actor(Role::Patient, 1, Some(7))
        };
        assert_eq!(
            Access::Requires(Permission::ViewOwnRecord).decide(Some(&p)),
            Decision::IdentityCheckRequired
        );
        assert_eq!(Access::SignedIn.decide(Some(&p)), Decision::Allow);
        let own = PatientRef {
            id: PatientId(7),
            practice: PracticeId(1),
        };
        assert_eq!(authorize_patient(&p, own), Decision::Forbidden);
    }

    #[test]
    fn staff_without_a_second_factor_see_no_patient_data() {
        for role in [
            Role::Receptionist,
            Role::Clinician,
            Role::PracticeManager,
            Role::SystemAdmin,
        ] {
            let s = Actor {
                second_factor_done: false,
                ..actor(role, 1, None)
            };
            for p in role.permissions() {
                assert_eq!(
                    Access::Requires(*p).decide(Some(&s)),
                    Decision::SecondFactorRequired,
                    "{role:?} {p:?}"
                );
            }
            assert_eq!(Access::SignedIn.decide(Some(&s)), Decision::Allow);
            let patient = PatientRef {
                id: PatientId(7),
                practice: PracticeId(1),
            };
            assert_eq!(authorize_patient(&s, patient), Decision::Forbidden);
        }
    }

    #[test]
    fn an_unconfirmed_patient_sees_no_record() {
        let p = Actor {
            email_verified: false,
            ..actor(Role::Patient, 1, Some(7))
        };
        assert_eq!(
            Access::Requires(Permission::ViewOwnRecord).decide(Some(&p)),
            Decision::EmailNotConfirmed
        );
        assert_eq!(Access::SignedIn.decide(Some(&p)), Decision::Allow);
        let own = PatientRef {
            id: PatientId(7),
            practice: PracticeId(1),
        };
        assert_eq!(authorize_patient(&p, own), Decision::Forbidden);
    }

    #[test]
    fn anonymous_callers_must_sign_in_except_for_public() {
        assert_eq!(Access::Public.decide(None), Decision::Allow);
        assert_eq!(Access::SignedIn.decide(None), Decision::SignInRequired);
        assert_eq!(
            Access::Requires(Permission::ViewOwnRecord).decide(None),
            Decision::SignInRequired
        );
    }

    #[test]
    fn patients_cannot_use_staff_functions() {
        let p = actor(Role::Patient, 1, Some(7));
        assert_eq!(
            Access::Requires(Permission::FindPracticePatients).decide(Some(&p)),
            Decision::Forbidden
        );
        assert_eq!(
            Access::Requires(Permission::ViewOwnRecord).decide(Some(&p)),
            Decision::Allow
        );
    }

    #[test]
    fn system_admins_see_no_patient_data() {
        let admin = Actor {
            practice: None,
            ..actor(Role::SystemAdmin, 1, None)
        };
        let patient = PatientRef {
            id: PatientId(7),
            practice: PracticeId(1),
        };
        assert_eq!(authorize_patient(&admin, patient), Decision::Forbidden);
    }

    proptest! {
        #[test]
        fn a_patient_sees_only_the_record_they_act_for(own in 1i64..50, other in 1i64..50, practice in 1i64..4) {
            let p = actor(Role::Patient, practice, Some(own));
            let decision = authorize_patient(&p, PatientRef { id: PatientId(other), practice: PracticeId(practice) });
            prop_assert_eq!(decision == Decision::Allow, own == other);
        }

        #[test]
        fn staff_never_cross_practices(role_index in 1usize..4, own in 1i64..5, theirs in 1i64..5) {
            let s = actor(Role::ALL[role_index], own, None);
            let decision = authorize_patient(&s, PatientRef { id: PatientId(3), practice: PracticeId(theirs) });
            prop_assert_eq!(decision == Decision::Allow, own == theirs);
        }
    }
}
