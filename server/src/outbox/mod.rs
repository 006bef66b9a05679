//! Email that is never lost. A change and its email are written in one
//! transaction (`store::enqueue`); a worker in each server claims due rows,
//! renders and sends them, and records the result, retrying with
//! exponential backoff and jitter until the policy gives up, when a system
//! administrator sees the email and can retry it.

pub mod store;
pub mod templates;
pub mod transport;

use crate::config::EmailConfig;
use crate::db::{Db, now_unix};
use async_trait::async_trait;
use domain::notifications::{AfterFailure, RetryPolicy};
use domain::ports::{OutboxAdmin, PortError};
use domain::views::{DevEmail, FailedEmail, OutboxSummary};
use futures_util::StreamExt;
use lettre::message::Mailbox;
use rand::Rng;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use transport::{EmailSetupError, Transport};

/// Everything that writes to or sends from the outbox shares one of these.
#[derive(Clone)]
pub struct Outbox {
    db: Db,
    transport: Transport,
    from: Mailbox,
    /// The sender's domain, for Message-IDs.
    message_domain: String,
    /// The portal's public URL without a trailing slash, for links.
    site: String,
    policy: RetryPolicy,
    lease_seconds: i64,
    batch: i64,
    poll: Duration,
    /// Wakes this server's worker when this server writes an email, so it
    /// goes at once rather than at the next poll.
    wake: Arc<Notify>,
    worker_id: Arc<str>,
}

impl Outbox {
    /// `local_only`: the portal is reachable from this machine alone, the
    /// one case where emails may go to the log instead of a mail server.
    pub fn new(
        db: Db,
        config: &EmailConfig,
        public_url: &str,
        local_only: bool,
    ) -> Result<Self, EmailSetupError> {
        let from = transport::sender(config)?;
        let transport = Transport::from_config(config, local_only)?;
        let mut id = [0u8; 6];
        rand::thread_rng().fill(&mut id);
        let worker_id = format!(
            "{}-{}",
            std::process::id(),
            id.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        Ok(Self {
            db,
            transport,
            message_domain: from.email.domain().to_owned(),
            from,
            site: public_url.trim_end_matches('/').to_owned(),
            policy: RetryPolicy {
                base_seconds: config.outbox_retry_base_seconds,
                max_delay_seconds: config.outbox_retry_max_seconds,
                max_attempts: config.outbox_max_attempts.max(1),
            },
            lease_seconds: i64::try_from(config.outbox_lease_seconds.max(1)).unwrap_or(120),
            batch: i64::from(config.outbox_batch.max(1)),
            poll: Duration::from_secs(config.outbox_poll_seconds.max(1)),
            wake: Arc::new(Notify::new()),
            worker_id: worker_id.into(),
        })
    }

    pub fn message_domain(&self) -> &str {
        &self.message_domain
    }

    /// Call after committing a transaction that wrote an email.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub fn spawn_worker(&self) -> tokio::task::JoinHandle<()> {
        let outbox = self.clone();
        tracing::info!(worker = %outbox.worker_id, "outbox worker started");
        tokio::spawn(async move { outbox.run().await })
    }

    async fn run(self) {
        loop {
            match self.send_due().await {
                Ok(0) => {
                    tokio::select! {
                        _ = self.wake.notified() => {}
                        _ = tokio::time::sleep(self.poll) => {}
                    }
                }
                Ok(_) => {}
                Err(err) => {
                    tracing::error!(cause = %err, "outbox: could not claim emails; trying again shortly");
                    tokio::time::sleep(self.poll).await;
                }
            }
        }
    }

    /// Claims one batch of due emails and sends them. Returns how many were
    /// claimed.
    pub async fn send_due(&self) -> Result<usize, sqlx::Error> {
        let claimed = store::claim(
            &self.db,
            &self.worker_id,
            now_unix(),
            self.lease_seconds,
            self.batch,
        )
        .await?;
        let count = claimed.len();
        futures_util::stream::iter(claimed)
            .for_each_concurrent(None, |email| self.send_one(email))
            .await;
        Ok(count)
    }

    async fn send_one(&self, email: store::ClaimedEmail) {
        let outcome = match templates::render(&email, &self.site) {
            Ok(rendered) => {
                self.transport
                    .send(&self.from, &email.recipient, &email.message_id, &rendered)
                    .await
            }
            Err(err) => Err(transport::SendFailure {
                permanent: true,
                text: format!("template could not be rendered: {err}"),
            }),
        };
        let now = now_unix();
        let recorded = match outcome {
            Ok(()) => {
                tracing::info!(
                    id = email.id,
                    kind = email.kind.as_str(),
                    waited_seconds = now - email.created_at,
                    "email sent"
                );
                store::mark_sent(&self.db, email.id, &self.worker_id, now)
                    .await
                    .map(|held| {
                        if !held {
                            tracing::warn!(id = email.id, "email sent after this worker's lease ran out; another worker may send it again with the same Message-ID");
                        }
                    })
            }
            Err(failure) => {
                let after = if failure.permanent {
                    AfterFailure::GiveUp
                } else {
                    self.policy
                        .after_failure(email.attempts, rand::thread_rng().r#gen::<f64>())
                };
                // The mail server's answer, never the message, and no address.
                let cause = redact_addresses(&failure.text);
                tracing::warn!(id = email.id, kind = email.kind.as_str(), attempts = email.attempts, %cause, ?after, "email not sent");
                store::mark_failed_attempt(
                    &self.db,
                    email.id,
                    &self.worker_id,
                    now,
                    &failure.text,
                    after,
                )
                .await
            }
        };
        if let Err(err) = recorded {
            tracing::error!(id = email.id, cause = %err, "could not record an email's result; its lease will run out and it will be tried again");
        }
    }
}

/// A mail server's answer often quotes the recipient; the log must not.
fn redact_addresses(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            if word.contains('@') {
                "[address]"
            } else {
                word
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn db_err(err: sqlx::Error) -> PortError {
    PortError::new(format!("database: {err}"))
}

#[async_trait]
impl OutboxAdmin for Outbox {
    async fn summary(&self) -> Result<OutboxSummary, PortError> {
        store::summary(&self.db, now_unix()).await.map_err(db_err)
    }

    async fn failed(&self, limit: u32) -> Result<Vec<FailedEmail>, PortError> {
        store::failed(&self.db, limit).await.map_err(db_err)
    }

    async fn retry(&self, id: i64) -> Result<bool, PortError> {
        let retried = store::retry(&self.db, id, now_unix())
            .await
            .map_err(db_err)?;
        if retried {
            self.wake();
        }
        Ok(retried)
    }

    async fn development_mailbox(&self) -> Result<Option<Vec<DevEmail>>, PortError> {
        Ok(self.transport.mailbox().map(|m| m.list()))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn logged_mail_server_answers_carry_no_address() {
        assert_eq!(
            super::redact_addresses("550 5.1.1 <sarah@example.com>: Recipient address rejected"),
            "550 5.1.1 [address] Recipient address rejected"
        );
    }
}
