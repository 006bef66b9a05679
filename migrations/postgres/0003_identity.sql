-- Identity (PostgreSQL): NHS login, registration letters (linkage keys) and
-- staff second factors. Keep in step with ../sqlite/0003_identity.sql.

-- How strongly this person's identity was checked, in NHS login's terms.
-- Accounts made by a practice were checked in person: P9. An account made
-- by online sign-up proved only knowledge (NHS number, date of birth, name)
-- and is P5 until its owner proves more (NHS login at P9, or a practice's
-- registration letter). A session signed in through NHS login carries the
-- level NHS login reported for that sign-in instead.
alter table accounts add column identity_level text not null default 'P9'
    check (identity_level in ('P0', 'P5', 'P9'));

-- An NHS login identity (issuer + subject) linked to a portal account.
-- A person has one NHS login and one account: both sides are unique.
create table nhs_login_links (
    id              bigint generated always as identity primary key,
    issuer          text   not null,
    subject         text   not null,
    account_id      bigint not null unique references accounts(id) on delete cascade,
    linked_at       bigint not null,
    last_sign_in_at bigint not null,
    unique (issuer, subject)
);

-- Registration letters. The "account ID" printed on the letter is a public
-- reference; the linkage key is a secret kept only as a SHA-256 hash.
create table linkage_keys (
    id                bigint generated always as identity primary key,
    practice_id       bigint not null references practices(id),
    patient_id        bigint not null references patients(id),
    account_reference text   not null unique,
    key_hash          text   not null,
    expires_at        bigint not null,
    failed_attempts   bigint not null default 0,
    status            text   not null default 'active'
                      check (status in ('active', 'used', 'revoked', 'locked')),
    created_by        bigint not null references accounts(id),
    created_at        bigint not null,
    ended_at          bigint,
    check ((status = 'active') = (ended_at is null))
);
-- At most one live letter per patient: issuing a new one revokes the old.
create unique index linkage_keys_one_active on linkage_keys (patient_id) where status = 'active';

-- A staff member's authenticator app (TOTP, RFC 6238). enrolled_at is null
-- until they have proved the app works by entering a code from it.
-- last_used_step stops a code from being used twice.
create table staff_mfa (
    account_id     bigint primary key references accounts(id) on delete cascade,
    secret         text   not null,
    enrolled_at    bigint,
    last_used_step bigint not null default 0,
    created_at     bigint not null
);

-- Single-use recovery codes, for a lost phone. Only hashes are kept.
create table mfa_recovery_codes (
    id          bigint generated always as identity primary key,
    account_id  bigint not null references accounts(id) on delete cascade,
    code_hash   text   not null,
    used_at     bigint,
    created_at  bigint not null
);
create index mfa_recovery_codes_account on mfa_recovery_codes (account_id);

-- Changes to how someone signs in (second factor enrolled or reset, NHS
-- login linked, devices signed out), and who made them.
create table security_events (
    id               bigint generated always as identity primary key,
    account_id       bigint not null references accounts(id) on delete cascade,
    actor_account_id bigint references accounts(id) on delete set null,
    event            text   not null,
    request_id       text   not null,
    at               bigint not null
);
create index security_events_account on security_events (account_id, at);

-- Wrong authenticator or recovery codes, counted for the limit on guessing
-- (5 in 15 minutes). Not in sign_in_failures: a correct password clears
-- those, and someone who knows the password must not be able to clear
-- these by signing in again.
create table second_factor_failures (
    account_id bigint not null references accounts(id) on delete cascade,
    at         bigint not null
);
create index second_factor_failures_account on second_factor_failures (account_id, at);

-- The access log may now record a refusal for someone who has no account
-- yet: a person signed in with NHS login who typed a wrong linkage key for
-- this record.
alter table access_log alter column actor_account_id drop not null;
