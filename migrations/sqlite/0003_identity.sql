-- Identity (SQLite): NHS login, registration letters (linkage keys) and
-- staff second factors. Keep in step with ../postgres/0003_identity.sql.

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
    id              integer primary key autoincrement,
    issuer          text    not null,
    subject         text    not null,
    account_id      integer not null unique references accounts(id) on delete cascade,
    linked_at       integer not null,
    last_sign_in_at integer not null,
    unique (issuer, subject)
);

-- Registration letters. The "account ID" printed on the letter is a public
-- reference; the linkage key is a secret kept only as a SHA-256 hash.
create table linkage_keys (
    id                integer primary key autoincrement,
    practice_id       integer not null references practices(id),
    patient_id        integer not null references patients(id),
    account_reference text    not null unique,
    key_hash          text    not null,
    expires_at        integer not null,
    failed_attempts   integer not null default 0,
    status            text    not null default 'active'
                      check (status in ('active', 'used', 'revoked', 'locked')),
    created_by        integer not null references accounts(id),
    created_at        integer not null,
    ended_at          integer,
    check ((status = 'active') = (ended_at is null))
);
-- At most one live letter per patient: issuing a new one revokes the old.
create unique index linkage_keys_one_active on linkage_keys (patient_id) where status = 'active';

-- A staff member's authenticator app (TOTP, RFC 6238). enrolled_at is null
-- until they have proved the app works by entering a code from it.
-- last_used_step stops a code from being used twice.
create table staff_mfa (
    account_id     integer primary key references accounts(id) on delete cascade,
    secret         text    not null,
    enrolled_at    integer,
    last_used_step integer not null default 0,
    created_at     integer not null
);

-- Single-use recovery codes, for a lost phone. Only hashes are kept.
create table mfa_recovery_codes (
    id          integer primary key autoincrement,
    account_id  integer not null references accounts(id) on delete cascade,
    code_hash   text    not null,
    used_at     integer,
    created_at  integer not null
);
create index mfa_recovery_codes_account on mfa_recovery_codes (account_id);

-- Changes to how someone signs in (second factor enrolled or reset, NHS
-- login linked, devices signed out), and who made them.
create table security_events (
    id               integer primary key autoincrement,
    account_id       integer not null references accounts(id) on delete cascade,
    actor_account_id integer references accounts(id) on delete set null,
    event            text    not null,
    request_id       text    not null,
    at               integer not null
);
create index security_events_account on security_events (account_id, at);

-- Wrong authenticator or recovery codes, counted for the limit on guessing
-- (5 in 15 minutes). Not in sign_in_failures: a correct password clears
-- those, and someone who knows the password must not be able to clear
-- these by signing in again.
create table second_factor_failures (
    account_id integer not null references accounts(id) on delete cascade,
    at         integer not null
);
create index second_factor_failures_account on second_factor_failures (account_id, at);

-- The access log may now record a refusal for someone who has no account
-- yet: a person signed in with NHS login who typed a wrong linkage key for
-- this record. SQLite cannot drop a NOT NULL, so the table is rebuilt
-- (nothing references it).
create table access_log_rebuilt (
    id                 integer primary key autoincrement,
    practice_id        integer not null references practices(id),
    patient_id         integer not null references patients(id),
    -- Null only for a person not yet linked to any account.
    actor_account_id   integer references accounts(id),
    actor_role         text    not null,
    acting_for_patient_id integer references patients(id),
    action             text    not null,
    outcome            text    not null check (outcome in ('allowed','refused')),
    request_id         text    not null,
    at                 integer not null
);
insert into access_log_rebuilt
    (id, practice_id, patient_id, actor_account_id, actor_role, acting_for_patient_id, action, outcome, request_id, at)
    select id, practice_id, patient_id, actor_account_id, actor_role, acting_for_patient_id, action, outcome, request_id, at
    from access_log;
drop table access_log;
alter table access_log_rebuilt rename to access_log;
create index access_log_patient on access_log (patient_id, at);
