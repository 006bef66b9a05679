-- Foundation schema (PostgreSQL). Keep in step with ../sqlite/0001_foundation.sql.
-- Integers are bigint throughout so the sqlx `Any` driver decodes them as i64
-- on both dialects. Times are Unix seconds (UTC).

-- A GP practice. Every practice-owned row carries practice_id.
create table practices (
    id          bigint generated always as identity primary key,
    ods_code    text   not null unique,
    name        text   not null,
    created_at  bigint not null
);

-- A person registered at a practice. Some have no NHS number yet.
create table patients (
    id             bigint generated always as identity primary key,
    practice_id    bigint not null references practices(id),
    nhs_number     text,
    given_name     text   not null,
    family_name    text   not null,
    date_of_birth  text   not null,          -- ISO 8601 date
    created_at     bigint not null,
    unique (practice_id, nhs_number),
    check (nhs_number is null or length(nhs_number) = 10)
);

-- Someone who signs in: a patient or a member of staff.
create table accounts (
    id             bigint generated always as identity primary key,
    practice_id    bigint references practices(id),
    email          text   not null unique,   -- stored lower-case
    display_name   text   not null,
    password_hash  text   not null,          -- argon2id PHC string
    role           text   not null check (role in
                     ('patient','receptionist','clinician','practice_manager','system_admin')),
    patient_id     bigint references patients(id),
    created_at     bigint not null,
    check ((role = 'system_admin') = (practice_id is null)),
    check ((role = 'patient') = (patient_id is not null))
);

-- tower-sessions records. Data is the session's JSON.
create table sessions (
    id          text   primary key,
    data        text   not null,
    expires_at  bigint not null
);
create index sessions_expires_at on sessions (expires_at);

-- Every read or change of patient data, allowed or refused. Append-only.
create table access_log (
    id                 bigint generated always as identity primary key,
    practice_id        bigint not null references practices(id),
    patient_id         bigint not null references patients(id),
    actor_account_id   bigint not null references accounts(id),
    actor_role         text   not null,
    acting_for_patient_id bigint references patients(id),
    action             text   not null,
    outcome            text   not null check (outcome in ('allowed','refused')),
    request_id         text   not null,
    at                 bigint not null
);
create index access_log_patient on access_log (patient_id, at);

-- Failed sign-ins, for throttling.
create table sign_in_failures (
    scope  text   not null check (scope in ('account','address')),
    key    text   not null,
    at     bigint not null
);
create index sign_in_failures_lookup on sign_in_failures (scope, key, at);

-- Values the server generates once and keeps, such as the cookie-signing key.
create table server_secrets (
    name        text   primary key,
    value       text   not null,
    created_at  bigint not null
);
