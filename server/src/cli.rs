//! The `portal` command line. Every flag also reads an environment variable
//! (shown in `--help`), and `--config-file` names an env file read first.

use crate::config::{DatabaseConfig, ServeConfig};
use crate::db;
use crate::provisioning::{self, NewPatient, NewStaff, SeedOutcome};
use crate::telemetry::LogFormat;
use clap::{Args, Parser, Subcommand};
use domain::{Email, NhsNumber, OdsCode, Role};
use secrecy::SecretString;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "portal",
    version,
    about = "An open-source patient portal for GP practices",
    long_about = "An open-source patient portal for GP practices.\n\n\
        Data lives in SQLite by default (data/portal.db) or in PostgreSQL when \
        DATABASE_URL starts with postgres://. Every flag can also be set with the \
        environment variable shown beside it, or in an env file given with --config-file."
)]
pub struct Cli {
    /// An env file (KEY=value lines) to read before the environment. Values
    /// already set in the environment win.
    #[arg(long, global = true, env = "PORTAL_CONFIG_FILE")]
    pub config_file: Option<PathBuf>,

    /// Log format: human-readable lines, or one JSON object per line.
    #[arg(
        long,
        global = true,
        env = "PORTAL_LOG_FORMAT",
        value_enum,
        default_value = "human"
    )]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the web server (applies any pending migrations first).
    // Boxed: the settings are large, and parsed once.
    Serve(Box<ServeConfig>),
    /// Apply pending database migrations and exit.
    Migrate(DatabaseConfig),
    /// Create two demo practices with staff of every role and 24 patients.
    /// Does nothing if the demo data is already there.
    SeedDemo(DatabaseConfig),
    /// Create a staff account. The password is read from PORTAL_NEW_PASSWORD
    /// or, if that is unset, from the first line of standard input.
    CreateStaff(CreateStaffArgs),
    /// Register a patient at a practice, optionally with an online account
    /// (password as for create-staff).
    CreatePatient(CreatePatientArgs),
    /// Load FHIR R4 Bundles (a file, or every .json file of a folder) into
    /// a practice's GP record. Running it again changes nothing.
    ImportFhir(ImportFhirArgs),
}

fn parse_email(s: &str) -> Result<Email, String> {
    Email::parse(s).map_err(|e| e.to_string())
}
fn parse_ods(s: &str) -> Result<OdsCode, String> {
    OdsCode::parse(s).map_err(|e| e.to_string())
}
fn parse_nhs(s: &str) -> Result<NhsNumber, String> {
    NhsNumber::parse(s).map_err(|e| e.to_string())
}
fn parse_date(s: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| {
        "Date of birth must be a real date written as YYYY-MM-DD, like 1984-03-27".to_owned()
    })
}
fn parse_staff_role(s: &str) -> Result<Role, String> {
    match Role::parse(s) {
        Some(Role::Patient) => Err("Use create-patient to add a patient".to_owned()),
        Some(role) => Ok(role),
        None => Err(
            "Role must be one of: receptionist, clinician, practice_manager, system_admin"
                .to_owned(),
        ),
    }
}

#[derive(Args)]
pub struct CreateStaffArgs {
    #[command(flatten)]
    pub database: DatabaseConfig,
    /// Email address they will sign in with.
    #[arg(long, value_parser = parse_email)]
    pub email: Email,
    /// Name shown to patients in the access log, like "Dr Tom Okafor".
    #[arg(long)]
    pub name: String,
    /// receptionist, clinician, practice_manager or system_admin.
    #[arg(long, value_parser = parse_staff_role)]
    pub role: Role,
    /// ODS code of their practice (not for system_admin).
    #[arg(long, value_parser = parse_ods)]
    pub practice: Option<OdsCode>,
}

#[derive(Args)]
pub struct CreatePatientArgs {
    #[command(flatten)]
    pub database: DatabaseConfig,
    /// ODS code of the practice they are registered at.
    #[arg(long, value_parser = parse_ods)]
    pub practice: OdsCode,
    #[arg(long)]
    pub given_name: String,
    #[arg(long)]
    pub family_name: String,
    /// YYYY-MM-DD.
    #[arg(long, value_parser = parse_date)]
    pub date_of_birth: chrono::NaiveDate,
    /// 10 digits; spaces and hyphens are fine. Leave out if they have none yet.
    #[arg(long, value_parser = parse_nhs)]
    pub nhs_number: Option<NhsNumber>,
    /// Give them an online account with this email address.
    #[arg(long, value_parser = parse_email)]
    pub email: Option<Email>,
}

#[derive(Args)]
pub struct ImportFhirArgs {
    #[command(flatten)]
    pub database: DatabaseConfig,
    /// A bundle file, or a folder of them.
    pub path: PathBuf,
    /// ODS code of the practice whose record this is.
    #[arg(long, value_parser = parse_ods)]
    pub practice: OdsCode,
}

fn read_new_password() -> anyhow::Result<SecretString> {
    if let Ok(p) = std::env::var("PORTAL_NEW_PASSWORD") {
        return Ok(SecretString::from(p));
    }
    eprintln!(
        "Password for the new account (at least {} characters), then Enter:",
        crate::passwords::MIN_PASSWORD_LEN
    );
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(SecretString::from(
        line.trim_end_matches(['\r', '\n']).to_owned(),
    ))
}

async fn migrated(config: &DatabaseConfig) -> anyhow::Result<db::Db> {
    let db = db::connect(config).await?;
    db.migrate().await?;
    Ok(db)
}

/// Runs a command. Messages meant for the operator go to standard error.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(config) => crate::web::serve(*config).await,
        Command::Migrate(config) => {
            migrated(&config).await?;
            eprintln!("The database at {} is up to date.", config.redacted_url());
            Ok(())
        }
        Command::SeedDemo(config) => {
            let db = migrated(&config).await?;
            match provisioning::seed_demo(&db).await? {
                SeedOutcome::AlreadyThere => {
                    eprintln!("The demo practices are already there; nothing changed.")
                }
                SeedOutcome::Created {
                    practices,
                    patients,
                    accounts,
                } => eprintln!(
                    "Created {practices} demo practices, {patients} patients and {accounts} accounts."
                ),
            }
            eprintln!(
                "Demo sign-in: {} / {} (every demo account uses this password; staff include priya.shah@riverside.example.com and admin@portal.example.com)",
                provisioning::DEMO_PATIENT_EMAIL,
                provisioning::DEMO_PASSWORD
            );
            eprintln!(
                "Demo staff also give a code from an authenticator app: add the setup key {} to one (every demo member of staff shares it).",
                domain::second_factor::group_setup_key(provisioning::DEMO_TOTP_SECRET)
            );
            if let Some((name, dob, nhs)) = provisioning::demo_sign_up_example(&db).await? {
                eprintln!(
                    "To try creating an account: {name}, born {}, NHS number {}. Without a mail server, the confirmation email is shown at /dev/emails.",
                    dob.format("%-d %-m %Y"),
                    nhs.formatted()
                );
            }
            Ok(())
        }
        Command::CreateStaff(args) => {
            let db = migrated(&args.database).await?;
            let password = read_new_password()?;
            let id = provisioning::create_staff(
                &db,
                NewStaff {
                    email: args.email,
                    display_name: args.name,
                    role: args.role,
                    practice: args.practice,
                    password,
                },
            )
            .await?;
            eprintln!("Created staff account {id}.");
            Ok(())
        }
        Command::CreatePatient(args) => {
            let db = migrated(&args.database).await?;
            let account = match args.email {
                Some(email) => Some((email, read_new_password()?)),
                None => None,
            };
            let id = provisioning::create_patient(
                &db,
                NewPatient {
                    practice: args.practice,
                    given_name: args.given_name,
                    family_name: args.family_name,
                    date_of_birth: args.date_of_birth,
                    nhs_number: args.nhs_number,
                    account,
                },
            )
            .await?;
            eprintln!("Registered patient {id}.");
            Ok(())
        }
        Command::ImportFhir(args) => {
            let db = migrated(&args.database).await?;
            crate::gp_system::import_command::run(&db, args.practice.as_str(), &args.path).await
        }
    }
}
