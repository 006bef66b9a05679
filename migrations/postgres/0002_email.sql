-- Email (PostgreSQL). Keep in step with ../sqlite/0002_email.sql.

-- Accounts made by a practice or an administrator were checked in person,
-- so their addresses count as confirmed; an account made by signing up
-- online is not confirmed until its owner follows the emailed link.
alter table accounts add column email_verified_at bigint;
update accounts set email_verified_at = created_at;
-- Optional emails, on unless turned off. 1 = on, 0 = off (bigint so the
-- `Any` driver reads both dialects alike).
alter table accounts add column wants_appointment_reminders bigint not null default 1
    check (wants_appointment_reminders in (0, 1));
alter table accounts add column wants_new_message_emails bigint not null default 1
    check (wants_new_message_emails in (0, 1));

-- Which account a session belongs to, so that changing a password can end
-- every session of that account. Null before sign-in.
alter table sessions add column account_id bigint;
create index sessions_account on sessions (account_id);

-- One-time links sent by email. Only a SHA-256 hash of the token is kept:
-- someone who reads this table cannot use a link.
create table account_tokens (
    id          bigint generated always as identity primary key,
    account_id  bigint not null references accounts(id) on delete cascade,
    purpose     text   not null check (purpose in ('verify_email','reset_password','change_email')),
    token_hash  text   not null unique,
    -- For change_email: the address that becomes the account's once confirmed.
    new_email   text,
    expires_at  bigint not null,
    used_at     bigint,
    created_at  bigint not null,
    check ((purpose = 'change_email') = (new_email is not null))
);
create index account_tokens_account on account_tokens (account_id, purpose);

-- The outbox: an email is a row written in the same transaction as the
-- change that causes it, then sent by a worker. Rows move
-- waiting -> sending (claimed, under a lease) -> sent, or back to waiting
-- with a later due_at after a failure, or to failed after too many.
create table outbox (
    id               bigint generated always as identity primary key,
    kind             text   not null,
    recipient        text   not null,
    account_id       bigint references accounts(id) on delete set null,
    -- The values the template shows (names, the practice). Never clinical.
    payload          text   not null,
    -- A one-time link's token, needed until the email is sent and then
    -- cleared: afterwards only account_tokens' hash remains.
    link_token       text,
    status           text   not null default 'waiting'
                     check (status in ('waiting','sending','sent','failed')),
    attempts         bigint not null default 0,
    due_at           bigint not null,
    -- While sending: the worker holding the row, and when its claim lapses
    -- (if that worker dies, another takes the row after this time).
    claimed_by       text,
    lease_expires_at bigint,
    last_error       text,
    -- Stable for the row's life, so a resend after a crash can be recognised.
    message_id       text   not null unique,
    created_at       bigint not null,
    sent_at          bigint,
    check ((status = 'sending') = (lease_expires_at is not null))
);
create index outbox_due on outbox (status, due_at);
create index outbox_recipient on outbox (recipient, kind, created_at);
